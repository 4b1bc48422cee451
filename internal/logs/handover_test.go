package logs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func init() {
	extraHelpers["numbers"] = func(arg string) int { return numbersHelper(arg, false) }
	extraHelpers["halves"] = func(arg string) int { return numbersHelper(arg, true) }
}

// numbersHelper writes lines "line %08d end" for 0..n-1 as fast as it can: "numbers"
// through a 4 KiB buffer, whose writes cut lines anywhere, "halves" with one write for
// each half of each line. Halfway, after the first half of line n/2, it says "gate" on
// descriptor 3 and stops until a byte arrives on stdin, so that the test knows lines
// are still to come and can catch a partial line.
func numbersHelper(arg string, halves bool) int {
	n, err := strconv.Atoi(arg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: bad count:", err)
		return 2
	}
	var out io.Writer = os.Stdout
	buf := bufio.NewWriterSize(os.Stdout, 4096)
	if !halves {
		out = buf
	}
	for i := range n {
		fmt.Fprintf(out, "line %08d ", i)
		if i == n/2 {
			if err := gate(buf); err != nil {
				fmt.Fprintln(os.Stderr, "helper:", err)
				return 1
			}
		}
		if _, err := io.WriteString(out, "end\n"); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 1
		}
	}
	if err := buf.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

// gate flushes buf, signals on descriptor 3 and waits for a byte on stdin.
func gate(buf *bufio.Writer) error {
	if err := buf.Flush(); err != nil {
		return err
	}
	sig := os.NewFile(3, "signal")
	if _, err := sig.WriteString("gate\n"); err != nil {
		return fmt.Errorf("signal: %w", err)
	}
	sig.Close()
	var one [1]byte
	if _, err := io.ReadFull(os.Stdin, one[:]); err != nil {
		return fmt.Errorf("gate: %w", err)
	}
	return nil
}

// numbersWriter is a running numbersHelper.
type numbersWriter struct {
	p      *os.Process
	out    *os.File // the read end of its stdout
	gate   *os.File // a byte written here lets it finish
	signal *os.File // says "gate" once it waits at the gate
}

func startNumbers(t *testing.T, mode string, n int) *numbersWriter {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	gateR, gateW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	sigR, sigW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gateW.Close(); sigR.Close() })
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := os.StartProcess(exe, []string{exe, "-test.run=^$", strconv.Itoa(n)}, &os.ProcAttr{
		Env:   append(os.Environ(), helperEnv+"="+mode),
		Files: []*os.File{gateR, w, os.Stderr, sigW},
	})
	w.Close()
	gateR.Close()
	sigW.Close()
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	return &numbersWriter{p: p, out: r, gate: gateW, signal: sigR}
}

// release lets the writer past its gate, waits for it to exit and checks it did well.
func (nw *numbersWriter) release(t *testing.T) {
	t.Helper()
	if _, err := nw.gate.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if st := waitProcess(t, nw.p); !st.Success() {
		t.Fatalf("writer: %v", st)
	}
}

// checkNumbers checks that the log at path holds lines 0..n-1 of numbersHelper, each
// once and in order.
func checkNumbers(t *testing.T, path string, n int) {
	t.Helper()
	got := texts(readLog(t, path), 0)
	if len(got) != n {
		t.Errorf("log holds %d lines, want %d", len(got), n)
	}
	for i := range min(len(got), n) {
		if want := fmt.Sprintf("line %08d end", i); got[i] != want {
			t.Fatalf("line %d is %q, want %q", i, got[i], want)
		}
	}
}

// waitFileSize polls until the file at path holds at least one byte.
func waitFileSize(t *testing.T, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for {
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s still empty after %v", path, waitTimeout)
		case <-time.After(time.Millisecond):
		}
	}
}

// waitLogText polls until the log at path holds the given lines.
func waitLogText(t *testing.T, path string, want []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for {
		got := texts(readLog(t, path), 0)
		if slices.Equal(got, want) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("log holds %q, want %q", got, want)
		case <-time.After(time.Millisecond):
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestDetachHandsOverEveryLineOnce moves a stream from one Capture to another in the
// middle of a real writer's output: the file must hold every line once, in order.
func TestDetachHandsOverEveryLineOnce(t *testing.T) {
	for _, tc := range []struct {
		mode string
		n    int
	}{{"numbers", 200000}, {"halves", 20000}} {
		t.Run(tc.mode, func(t *testing.T) {
			testHandover(t, tc.mode, tc.n)
		})
	}
}

func testHandover(t *testing.T, mode string, n int) {
	path := filepath.Join(t.TempDir(), "svc", "out.log")
	nw := startNumbers(t, mode, n)
	c1 := newCapture(t)
	s1, err := c1.Open(path, Options{MaxSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	done1, err := s1.AttachTail(Stdout, nw.out, NewTail(8))
	if err != nil {
		t.Fatal(err)
	}
	waitFileSize(t, path) // the writer is under way
	ds, err := c1.Detach()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("Detach returned %d streams, want 1", len(ds))
	}
	d := ds[0]
	before := len(readLog(t, path))
	if before > n/2 {
		t.Fatalf("%d lines captured before Detach, but line %d is held at the gate", before, n/2)
	}
	t.Logf("detached after %d lines with a carry of %d bytes", before, len(d.Carry))
	if isClosed(done1) {
		t.Error("Detach closed the stream's channel")
	}

	c2 := newCapture(t)
	s2, err := c2.Open(d.Path, d.Options)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	done2, err := s2.AttachCarry(d.Stream, d.File, nil, d.Carry)
	if err != nil {
		t.Fatal(err)
	}
	nw.release(t)
	waitDone(t, done2)
	checkNumbers(t, path, n)
	if isClosed(done1) {
		t.Error("the first capture's channel was closed after the handover")
	}
}

// TestDetachPartialLine checks the carry itself: a half line read before Detach is
// returned, survives JSON, and is completed, once, by the next capture and its tail.
func TestDetachPartialLine(t *testing.T) {
	c1 := newCapture(t)
	s1 := openSink(t, c1, Options{MaxFiles: 3})
	w, done1 := attachPipe(t, s1, Stderr)
	// One write, smaller than PIPE_BUF, so that it is read at once: when "whole" is in
	// the file, "hal" is in the carry.
	if _, err := w.WriteString("whole\nhal"); err != nil {
		t.Fatal(err)
	}
	waitLogText(t, s1.Path(), []string{"whole"})
	ds, err := c1.Detach()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("Detach returned %d streams, want 1", len(ds))
	}
	want := Detached{Path: s1.Path(), Options: Options{MaxSize: DefaultMaxSize, MaxFiles: 3}, Stream: Stderr, Carry: []byte("hal")}
	d := ds[0]
	if d.Path != want.Path || d.Options != want.Options || d.Stream != want.Stream || string(d.Carry) != "hal" || d.File == nil {
		t.Fatalf("Detach returned %+v, want %+v with a file", d, want)
	}
	if isClosed(done1) {
		t.Error("Detach closed the stream's channel")
	}
	// Written while no capture reads: it waits in the pipe.
	if _, err := w.WriteString("f\nnext\n"); err != nil {
		t.Fatalf("write after Detach: %v (the read end must stay open)", err)
	}

	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back Detached
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Path != want.Path || back.Options != want.Options || back.Stream != want.Stream || string(back.Carry) != "hal" {
		t.Fatalf("JSON %s gave %+v, want %+v", data, back, want)
	}

	c2 := newCapture(t)
	s2, err := c2.Open(back.Path, back.Options)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	tail := NewTail(8)
	done2, err := s2.AttachCarry(back.Stream, d.File, tail, back.Carry)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	waitDone(t, done2)
	lines := readLog(t, s2.Path())
	if got, want := texts(lines, 0), []string{"whole", "half", "next"}; !slices.Equal(got, want) {
		t.Errorf("log holds %q, want %q", got, want)
	}
	if got := texts(lines, Stderr); len(got) != len(lines) {
		t.Errorf("log holds %d stderr lines of %d, want all", len(got), len(lines))
	}
	if got, want := texts(tail.Lines(), 0), []string{"half", "next"}; !slices.Equal(got, want) {
		t.Errorf("tail holds %q, want %q", got, want)
	}
}

func TestDetachClosesCaptureAndSinks(t *testing.T) {
	base := runtime.NumGoroutine()
	c, err := NewCapture(nil)
	if err != nil {
		t.Fatal(err)
	}
	idle := openSink(t, c, Options{})
	busy := openSink(t, c, Options{})
	w, _ := attachPipe(t, busy, Stdout)
	if _, err := w.WriteString("kept\n"); err != nil {
		t.Fatal(err)
	}
	waitLogText(t, busy.Path(), []string{"kept"})
	ds, err := c.Detach()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || len(ds[0].Carry) != 0 {
		t.Fatalf("Detach returned %+v, want one stream without carry", ds)
	}
	defer ds[0].File.Close()
	for _, s := range []*Sink{idle, busy} {
		if err := s.Close(); !errors.Is(err, ErrClosed) {
			t.Errorf("Sink.Close after Detach: %v, want ErrClosed", err)
		}
	}
	r2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if _, err := idle.Attach(Stdout, r2); !errors.Is(err, ErrClosed) {
		t.Errorf("Attach after Detach: %v, want ErrClosed", err)
	}
	if _, err := c.Open(filepath.Join(t.TempDir(), "x.log"), Options{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Open after Detach: %v, want ErrClosed", err)
	}
	if _, err := c.Detach(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Detach: %v, want ErrClosed", err)
	}
	if err := c.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("Close after Detach: %v, want ErrClosed", err)
	}
	if got := texts(busy.Recent(10), 0); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("Recent after Detach = %q, want the line captured", got)
	}
	waitGoroutines(t, base)

	c2, err := NewCapture(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Detach(); !errors.Is(err, ErrClosed) {
		t.Errorf("Detach after Close: %v, want ErrClosed", err)
	}
}

// TestDetachRacingSinkClose: a stream whose sink is closed while the capture detaches
// is either finished (its channel closed, its lines written) or handed off, never both
// nor neither, and nothing hangs.
func TestDetachRacingSinkClose(t *testing.T) {
	c := newCapture(t)
	const n = 16
	sinks := make([]*Sink, n)
	dones := make([]<-chan struct{}, n)
	writers := make([]*os.File, n)
	for i := range n {
		sinks[i] = openSink(t, c, Options{})
		writers[i], dones[i] = attachPipe(t, sinks[i], Stdout)
		if _, err := writers[i].WriteString("a\nb"); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, n)
	for i := range n {
		go func() { closed <- sinks[i].Close() }()
	}
	ds, err := c.Detach()
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		select {
		case err := <-closed:
			if err != nil && !errors.Is(err, ErrClosed) {
				t.Errorf("Sink.Close: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("Sink.Close hung during Detach")
		}
	}
	handed := map[string]Detached{}
	for _, d := range ds {
		handed[d.Path] = d
	}
	c2 := newCapture(t)
	for i, s := range sinks {
		d, ok := handed[s.Path()]
		switch {
		case ok && isClosed(dones[i]):
			t.Errorf("sink %d: stream both finished and handed off", i)
		case !ok && !isClosed(dones[i]):
			t.Errorf("sink %d: stream neither finished nor handed off", i)
		case ok:
			// The rest is in the carry or the pipe: a new capture completes the file.
			s2, err := c2.Open(d.Path, d.Options)
			if err != nil {
				t.Fatal(err)
			}
			done, err := s2.AttachCarry(d.Stream, d.File, nil, d.Carry)
			if err != nil {
				t.Fatal(err)
			}
			writers[i].Close()
			waitDone(t, done)
			s2.Close()
		}
		if got := texts(readLog(t, s.Path()), 0); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("sink %d (handed off: %v) holds %q, want each line once", i, ok, got)
		}
	}
}

func TestAttachCarryRejectsBadCarry(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	for _, carry := range [][]byte{[]byte("two\nlines"), make([]byte, maxLine+1)} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AttachCarry(Stdout, r, nil, carry); !errors.Is(err, ErrInvalid) {
			t.Errorf("AttachCarry with a carry of %d bytes: %v, want ErrInvalid", len(carry), err)
		}
		if _, err := w.WriteString("x\n"); !errors.Is(err, syscall.EPIPE) {
			t.Errorf("write after rejected AttachCarry: %v, want EPIPE (read end closed)", err)
		}
		w.Close()
	}
}

func TestAttachCarryAtEOF(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	carry := []byte("unfinished")
	done, err := s.AttachCarry(Stdout, r, nil, carry)
	if err != nil {
		t.Fatal(err)
	}
	carry[0] = 'X' // AttachCarry copied it
	w.Close()
	waitDone(t, done)
	if got := texts(readLog(t, s.Path()), 0); !slices.Equal(got, []string{"unfinished"}) {
		t.Errorf("log holds %q, want the carry as the last line", got)
	}
}

func TestOptionsAndStreamJSON(t *testing.T) {
	type pair struct {
		Options Options `json:"options"`
		Streams []Stream
	}
	in := pair{Options: Options{MaxSize: 123, MaxFiles: 4}, Streams: []Stream{Stdout, Stderr}}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"options":{"max_size":123,"max_files":4},"Streams":["stdout","stderr"]}`; string(data) != want {
		t.Errorf("JSON = %s, want %s", data, want)
	}
	var out pair
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if out.Options != in.Options || !slices.Equal(out.Streams, in.Streams) {
		t.Errorf("round trip gave %+v, want %+v", out, in)
	}
	if _, err := json.Marshal(Stream(0)); !errors.Is(err, ErrInvalid) {
		t.Errorf("Marshal(Stream(0)): %v, want ErrInvalid", err)
	}
	var s Stream
	if err := json.Unmarshal([]byte(`"stdin"`), &s); !errors.Is(err, ErrInvalid) {
		t.Errorf(`Unmarshal("stdin"): %v, want ErrInvalid`, err)
	}
}
