//go:build !portable_poller

package logs

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
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
