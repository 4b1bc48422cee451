//go:build !portable_poller

package logs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// What Linux's epoll capture promises beyond the portable one: one goroutine
// for every stream, and pipes only.

func TestAttachRegularFileNotPollable(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	f, err := os.Create(filepath.Join(t.TempDir(), "plain"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Attach(Stdout, f); !errors.Is(err, ErrNotPollable) {
		t.Fatalf("Attach(regular file): %v, want ErrNotPollable", err)
	}
	if err := f.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Attach did not take ownership of the file: %v", err)
	}
}

func TestOneGoroutineServesAllStreams(t *testing.T) {
	c := newCapture(t)
	base := runtime.NumGoroutine()
	for range 100 {
		s := openSink(t, c, Options{})
		attachPipe(t, s, Stdout)
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Fatalf("%d goroutines with 100 idle streams attached, %d before", n, base)
	}
}

// fillPipe returns a pipe holding 64 KiB of lines, a new pipe's whole buffer,
// attached to s: the capture's first read finds it full.
func fillPipe(t *testing.T, s *Sink) (*os.File, <-chan struct{}) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	line := append(bytes.Repeat([]byte{'x'}, 63), '\n')
	if _, err := w.Write(bytes.Repeat(line, 1024)); err != nil {
		t.Fatal(err)
	}
	done, err := s.Attach(Stdout, r)
	if err != nil {
		t.Fatal(err)
	}
	return w, done
}

func pipeSize(t *testing.T, f *os.File) int {
	t.Helper()
	n, err := unix.FcntlInt(f.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFullPipeGrows(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	w, done := fillPipe(t, s)
	waitFor(t, "the pipe to grow", func() bool { return pipeSize(t, w) == busyPipe })
	w.Close()
	waitDone(t, done)
	if got := len(readLog(t, s.Path())); got != 1024 {
		t.Fatalf("%d lines in the log, want 1024", got)
	}
}

func TestQuietPipeKeepsItsSize(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	w, done := attachPipe(t, s, Stdout)
	before := pipeSize(t, w)
	for i := range 100 {
		if _, err := fmt.Fprintf(w, "line %d\n", i); err != nil {
			t.Fatal(err)
		}
	}
	waitFileLines(t, s.Path(), 100)
	if after := pipeSize(t, w); after != before {
		t.Fatalf("a pipe never found full grew from %d to %d bytes", before, after)
	}
	w.Close()
	waitDone(t, done)
}

func TestGrownPipesAreBounded(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	ws := make([]*os.File, maxBusyPipes+1)
	dones := make([]<-chan struct{}, len(ws))
	for i := range ws {
		ws[i], dones[i] = fillPipe(t, s)
	}
	// Every pipe is read whole: the grown ones are then all grown.
	waitFileLines(t, s.Path(), 1024*len(ws))
	grown := 0
	for _, w := range ws {
		if pipeSize(t, w) == busyPipe {
			grown++
		}
	}
	if grown != maxBusyPipes {
		t.Fatalf("%d of %d full pipes grew, want %d", grown, len(ws), maxBusyPipes)
	}
	// The streams that end leave the count: a new full pipe grows again.
	for i, w := range ws {
		w.Close()
		waitDone(t, dones[i])
	}
	w, done := fillPipe(t, s)
	waitFor(t, "the pipe to grow", func() bool { return pipeSize(t, w) == busyPipe })
	w.Close()
	waitDone(t, done)
}

func TestCoalesceOnlyBusySmallRounds(t *testing.T) {
	for _, c := range []struct {
		read  int
		since time.Duration
		want  bool
	}{
		{100, 100 * time.Microsecond, true},         // a line soon after another: wait for more
		{smallRound - 1, busyGap - 1, true},         // the edges, inside
		{smallRound, 100 * time.Microsecond, false}, // a big round: reads are batched already
		{100, busyGap, false},                       // a line after a pause: no wait
		{100, time.Hour, false},                     // a quiet stream's line
		{0, 100 * time.Microsecond, false},          // nothing read (requests only)
		{readsPerRound * readSize, 0, false},        // a pipe not drained
	} {
		if got := shouldCoalesce(c.read, c.since); got != c.want {
			t.Errorf("shouldCoalesce(%d, %v) = %v, want %v", c.read, c.since, got, c.want)
		}
	}
}

func TestInheritedGrownPipesCount(t *testing.T) {
	c1 := newCapture(t)
	s1 := openSink(t, c1, Options{})
	ws := make([]*os.File, maxBusyPipes)
	for i := range ws {
		ws[i], _ = fillPipe(t, s1)
	}
	waitFileLines(t, s1.Path(), 1024*len(ws))
	ds, err := c1.Detach()
	if err != nil {
		t.Fatal(err)
	}
	c2 := newCapture(t)
	s2, err := c2.Open(s1.Path(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	dones := make([]<-chan struct{}, len(ds))
	for i, d := range ds {
		if dones[i], err = s2.AttachCarry(d.Stream, d.File, nil, d.Carry); err != nil {
			t.Fatal(err)
		}
	}
	// The handed-over pipes are grown and count: a new full pipe stays as it is.
	w, done := fillPipe(t, s2)
	waitFileLines(t, s2.Path(), 1024*(len(ws)+1))
	if n := pipeSize(t, w); n == busyPipe {
		t.Fatalf("a new pipe grew beside %d grown pipes handed over", len(ds))
	}
	w.Close()
	waitDone(t, done)
	for _, w := range ws {
		w.Close()
	}
	for _, d := range dones {
		waitDone(t, d) // Detach returns the streams in no set order
	}
	w, done = fillPipe(t, s2)
	waitFor(t, "the pipe to grow", func() bool { return pipeSize(t, w) == busyPipe })
	w.Close()
	waitDone(t, done)
}

// The loop waits for streams parked on the runtime's poller: no thread sits in
// epoll_wait on the capture's set, which would keep the runtime's monitor thread
// polling while the capture is idle.
func TestIdleLoopWaitsWithoutSystemCall(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	w, _ := attachPipe(t, s, Stdout)
	if _, err := fmt.Fprintln(w, "one line"); err != nil {
		t.Fatal(err)
	}
	waitFileLines(t, s.Path(), 1)
	// Right after a round that read something the loop waits in epoll_wait for
	// busyWait; then it parks for good.
	deadline := time.Now().Add(waitTimeout)
	for blockedOn(t, c.p.epfd) {
		if time.Now().After(deadline) {
			t.Fatalf("a thread still blocked in a system call on the capture's epoll set after %v", waitTimeout)
		}
		time.Sleep(time.Millisecond)
	}
	for range 50 {
		if blockedOn(t, c.p.epfd) {
			t.Fatal("an idle capture's loop went back to a system call on its epoll set")
		}
		time.Sleep(time.Millisecond)
	}
	// Parked, the loop still wakes for the next line.
	if _, err := fmt.Fprintln(w, "another line"); err != nil {
		t.Fatal(err)
	}
	waitFileLines(t, s.Path(), 2)
}

// blockedOn reports whether a thread of this process is blocked in a system call
// whose first argument is fd, as /proc/self/task/*/syscall shows it ("NR ARG1 …"
// for a thread blocked in a call, "running" otherwise).
func blockedOn(t *testing.T, fd int) bool {
	t.Helper()
	paths, err := filepath.Glob("/proc/self/task/*/syscall")
	if err != nil {
		t.Fatal(err)
	}
	arg := fmt.Sprintf("0x%x", fd)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		if f := strings.Fields(string(b)); len(f) > 1 && f[0] != "running" && f[0] != "-1" && f[1] == arg {
			return true
		}
	}
	return false
}
