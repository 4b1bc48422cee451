package logs

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestTailKeepsOneRunsLinesOnly(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	var tails []*Tail
	for run := range 2 {
		tail := NewTail(5)
		tails = append(tails, tail)
		w, done := attachTailPipe(t, s, Stdout, tail)
		for i := range 3 {
			fmt.Fprintf(w, "run %d line %d\n", run, i)
		}
		w.Close()
		waitDone(t, done)
	}
	for run, tail := range tails {
		want := []string{fmt.Sprintf("run %d line 0", run), fmt.Sprintf("run %d line 1", run), fmt.Sprintf("run %d line 2", run)}
		if got := texts(tail.Lines(), 0); !slices.Equal(got, want) {
			t.Errorf("run %d tail = %q, want %q", run, got, want)
		}
	}
}

func TestTailSharedByBothStreamsHasPartialLastLine(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	tail := NewTail(10)
	wOut, doneOut := attachTailPipe(t, s, Stdout, tail)
	wErr, doneErr := attachTailPipe(t, s, Stderr, tail)
	fmt.Fprint(wOut, "to stdout\n")
	wOut.Close()
	waitDone(t, doneOut)
	fmt.Fprint(wErr, "to stderr\nno newline at the end")
	wErr.Close()
	waitDone(t, doneErr)
	got := tail.Lines()
	if !slices.Equal(texts(got, Stdout), []string{"to stdout"}) || !slices.Equal(texts(got, Stderr), []string{"to stderr", "no newline at the end"}) {
		t.Fatalf("tail = %+v", got)
	}
	if got[2].Time.Before(got[0].Time) {
		t.Errorf("tail out of time order: %+v", got)
	}
}

func TestTailIsBounded(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	tail := NewTail(4)
	w, done := attachTailPipe(t, s, Stdout, tail)
	data, want := numbered("n", 1000)
	long := strings.Repeat("é", 600) // 1200 bytes
	waitW := writeAsync(w, append(data, long+"\n"...), 4096)
	waitDone(t, done)
	if err := waitW(); err != nil {
		t.Fatal(err)
	}
	got := texts(tail.Lines(), 0)
	if len(got) != 4 || !slices.Equal(got[:3], want[len(want)-3:]) {
		t.Fatalf("tail = %q, want the last 3 numbered lines and the long one", got)
	}
	if len(got[3]) != 512 || !strings.HasPrefix(long, got[3]) {
		t.Errorf("long line kept as %d bytes, want its first 512", len(got[3]))
	}
	if n := len(tail.slots); n != 4 {
		t.Errorf("%d slots, want 4", n)
	}
}

func TestTailSizes(t *testing.T) {
	if tl := NewTail(0); tl.max != 0 {
		t.Errorf("NewTail(0) keeps %d", tl.max)
	}
	if tl := NewTail(-3); tl.max != 0 {
		t.Errorf("NewTail(-3) keeps %d", tl.max)
	}
	if tl := NewTail(1 << 20); tl.max != MaxTailLines {
		t.Errorf("NewTail(1<<20) keeps %d, want %d", tl.max, MaxTailLines)
	}
	var nilTail *Tail
	if nilTail.Lines() != nil {
		t.Error("nil Tail has lines")
	}
	c := newCapture(t)
	s := openSink(t, c, Options{})
	tail := NewTail(0)
	w, done := attachTailPipe(t, s, Stdout, tail)
	fmt.Fprintln(w, "x")
	w.Close()
	waitDone(t, done)
	if got := tail.Lines(); got != nil {
		t.Errorf("NewTail(0) kept %+v", got)
	}
	if got := texts(readLog(t, s.Path()), 0); !slices.Equal(got, []string{"x"}) {
		t.Errorf("file = %q", got)
	}
}

func TestTailReadWhileCapturing(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	tail := NewTail(8)
	w, done := attachTailPipe(t, s, Stdout, tail)
	data, want := numbered("n", 5000)
	waitW := writeAsync(w, data, 100)
	for {
		select {
		case <-done:
			if err := waitW(); err != nil {
				t.Fatal(err)
			}
			if got := texts(tail.Lines(), 0); !slices.Equal(got, want[len(want)-8:]) {
				t.Fatalf("tail = %q", got)
			}
			return
		default:
			if l := tail.Lines(); len(l) > 8 {
				t.Fatalf("tail holds %d lines", len(l))
			}
		}
	}
}

func attachTailPipe(t *testing.T, s *Sink, kind Stream, tail *Tail) (*os.File, <-chan struct{}) {
	t.Helper()
	r, wf, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wf.Close() })
	done, err := s.AttachTail(kind, r, tail)
	if err != nil {
		t.Fatal(err)
	}
	return wf, done
}
