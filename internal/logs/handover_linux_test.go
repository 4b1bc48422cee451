package logs

import (
	"bufio"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitUnread polls until the pipe read through fd holds no byte.
func waitUnread(t *testing.T, fd int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for {
		n, err := unix.IoctlGetInt(fd, unix.TIOCINQ)
		if err != nil {
			t.Fatal(err)
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

// TestDetachMidLineOfRealWriter detaches exactly when a real writer has printed half a
// line, which the capture has read: the half must come back as the carry, and the line
// must be written whole, once, by the next capture.
func TestDetachMidLineOfRealWriter(t *testing.T) {
	for _, mode := range []string{"numbers", "halves"} {
		t.Run(mode, func(t *testing.T) {
			const n = 2000
			path := filepath.Join(t.TempDir(), "out.log")
			nw := startNumbers(t, mode, n)
			// A second descriptor of the read end, to see what the pipe still holds.
			peek, err := unix.FcntlInt(nw.out.Fd(), unix.F_DUPFD_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(peek)
			c1 := newCapture(t)
			s1, err := c1.Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s1.Attach(Stdout, nw.out); err != nil {
				t.Fatal(err)
			}
			if line, err := bufio.NewReader(nw.signal).ReadString('\n'); err != nil || line != "gate\n" {
				t.Fatalf("writer signal: %q, %v", line, err)
			}
			waitUnread(t, peek)
			ds, err := c1.Detach()
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 1 {
				t.Fatalf("Detach returned %d streams, want 1", len(ds))
			}
			if got, want := string(ds[0].Carry), fmt.Sprintf("line %08d ", n/2); got != want {
				t.Fatalf("carry %q, want %q", got, want)
			}
			checkNumbers(t, path, n/2)

			c2 := newCapture(t)
			s2, err := c2.Open(ds[0].Path, ds[0].Options)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			done, err := s2.AttachCarry(ds[0].Stream, ds[0].File, nil, ds[0].Carry)
			if err != nil {
				t.Fatal(err)
			}
			nw.release(t)
			waitDone(t, done)
			checkNumbers(t, path, n)
		})
	}
}
