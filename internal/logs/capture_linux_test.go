package logs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitPipeEmpty polls until the capture has read everything in the pipe behind w.
func waitPipeEmpty(t *testing.T, w *os.File) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	rc, err := w.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for {
		var n int
		var ioErr error
		if err := rc.Control(func(fd uintptr) { n, ioErr = unix.IoctlGetInt(int(fd), unix.TIOCINQ) }); err != nil {
			t.Fatal(err)
		}
		if ioErr != nil {
			t.Fatal(ioErr)
		}
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d bytes still unread in the pipe", n)
		case <-time.After(time.Millisecond):
		}
	}
}

func TestLineSplitAcrossReadsOfRealPipe(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	w, done := attachPipe(t, s, Stdout)
	for _, piece := range []string{"first ha", "lf, second half\nnext", " line\n", "tail"} {
		if _, err := w.WriteString(piece); err != nil {
			t.Fatal(err)
		}
		waitPipeEmpty(t, w) // the capture read this piece on its own
	}
	if got := texts(s.Recent(10), 0); !slices.Equal(got, []string{"first half, second half", "next line"}) {
		t.Errorf("before EOF Recent = %q, want the two whole lines only", got)
	}
	w.Close()
	waitDone(t, done)
	if got, want := texts(readLog(t, s.Path()), 0), []string{"first half, second half", "next line", "tail"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

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
