package logs

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// waitFileLines polls path until it holds n lines.
func waitFileLines(t *testing.T, path string, n int) {
	t.Helper()
	end := time.Now().Add(waitTimeout)
	for time.Now().Before(end) {
		if b, err := os.ReadFile(path); err == nil && strings.Count(string(b), "\n") >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s never held %d lines", path, n)
}

// Reopen after the file was moved away (logrotate's way) makes a fresh file at
// the path; what was written before stays in the moved file.
func TestReopenAfterMove(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	w, done := attachPipe(t, s, Stdout)
	if _, err := w.WriteString("before\n"); err != nil {
		t.Fatal(err)
	}
	waitFileLines(t, s.Path(), 1)
	moved := s.Path() + ".moved"
	if err := os.Rename(s.Path(), moved); err != nil {
		t.Fatal(err)
	}
	if err := s.Reopen(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString("after\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	waitDone(t, done)
	if got := texts(readLog(t, moved), 0); !slices.Equal(got, []string{"before"}) {
		t.Errorf("moved file holds %q, want [before]", got)
	}
	if got := texts(readLog(t, s.Path()), 0); !slices.Equal(got, []string{"after"}) {
		t.Errorf("file at the path holds %q, want [after]", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Reopen(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reopen after Close: %v, want ErrClosed", err)
	}
}
