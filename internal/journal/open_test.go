package journal

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestOpenRefusesSymlinkAndFIFO(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "events.jsonl")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if j, err := Open(link, Options{}, nil); err == nil {
		j.Close()
		t.Fatal("a symlinked journal was opened")
	}
	if b, _ := os.ReadFile(target); string(b) != "precious\n" {
		t.Errorf("target changed: %q", b)
	}
	fifo := filepath.Join(dir, "fifo.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// O_WRONLY on a FIFO with a reader would succeed; the journal reads it
	// first to find a torn line, and a FIFO is refused there.
	f, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if j, err := Open(fifo, Options{}, nil); err == nil {
		j.Close()
		t.Fatal("a FIFO was opened as the journal")
	}
}
