package logs

import (
	"context"
	"os"
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
