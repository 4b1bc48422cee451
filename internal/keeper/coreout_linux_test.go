package keeper

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// flakyWriter fails every write while fail is set, as a full disk does.
type flakyWriter struct {
	mu   sync.Mutex // guards fail and buf
	fail bool
	buf  bytes.Buffer
}

func (w *flakyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail {
		return 0, syscall.ENOSPC
	}
	return w.buf.Write(p)
}

func (w *flakyWriter) setFail(f bool) {
	w.mu.Lock()
	w.fail = f
	w.mu.Unlock()
}

func (w *flakyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCoreOutputCopySurvivesFailedWrites(t *testing.T) {
	out := &flakyWriter{}
	k := &Keeper{out: out, dropWake: make(chan struct{}, 1)}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		k.copyCoreOutput(r)
		close(done)
	}()
	defer func() {
		if w != nil {
			w.Close()
			<-done
		}
	}()

	w.WriteString("first\n")
	waitCond(t, "the first line", func() bool { return out.String() == "first\n" })

	out.setFail(true)
	// Far more than a pipe holds: only a copy that keeps draining lets this finish.
	line := strings.Repeat("x", 99) + "\n"
	wrote := make(chan error, 1)
	go func() {
		_, err := w.WriteString(strings.Repeat(line, 2000))
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the core's writes block: the copy stopped draining the pipe")
	}
	waitCond(t, "2000 dropped lines", func() bool { return k.outDropped.Load() == 2000 })
	if !k.outDropping.Load() {
		t.Error("outDropping = false while writes fail")
	}
	select {
	case <-k.dropWake:
	default:
		t.Error("the start of the drops did not wake reportDrops")
	}

	out.setFail(false)
	w.WriteString("after\n")
	waitCond(t, "the line after recovery", func() bool { return out.String() == "first\nafter\n" })
	if k.outDropping.Load() {
		t.Error("outDropping = true after a write succeeded")
	}
	select {
	case <-k.dropWake:
	default:
		t.Error("the end of the drops did not wake reportDrops")
	}

	// A line longer than the copy holds is written in pieces; the last one at EOF.
	w.WriteString(strings.Repeat("y", maxCoreLine+10))
	w.Close()
	<-done
	w = nil
	got := strings.TrimPrefix(out.String(), "first\nafter\n")
	if want := strings.Repeat("y", maxCoreLine) + "\n" + strings.Repeat("y", 10) + "\n"; got != want {
		t.Errorf("long line written as %d bytes in %d lines, want %d bytes in 2", len(got), strings.Count(got, "\n"), len(want))
	}
}
