package logs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// failWrites makes every write to *file fail with ENOSPC, as on a full disk, until the
// returned function puts the real file back.
func failWrites(t *testing.T, mu interface {
	Lock()
	Unlock()
}, file **os.File) (restore func()) {
	t.Helper()
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full to fail writes with: %v", err)
	}
	mu.Lock()
	real := *file
	*file = full
	mu.Unlock()
	return func() {
		mu.Lock()
		*file = real
		mu.Unlock()
		full.Close()
	}
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSinkSurvivesFailedWritesAndResumes(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	changes := make(chan bool, 16)
	s.OnDrops(func() { changes <- s.Dropping() })
	w, _ := attachPipe(t, s, Stdout)

	fmt.Fprintln(w, "before")
	waitFor(t, "the first line in the file", func() bool { return len(readLog(t, s.Path())) == 1 })

	restore := failWrites(t, &s.fileMu, &s.file)
	fmt.Fprintln(w, "lost 1")
	fmt.Fprintln(w, "lost 2")
	waitFor(t, "2 dropped lines", func() bool { return s.Dropped() == 2 })
	if !s.Dropping() {
		t.Error("Dropping() = false while writes fail")
	}
	if got := <-changes; !got {
		t.Error("the first change reported is not the start of dropping")
	}

	restore()
	fmt.Fprintln(w, "after")
	waitFor(t, "the line after recovery", func() bool { return len(readLog(t, s.Path())) == 2 })
	if got := texts(readLog(t, s.Path()), 0); got[0] != "before" || got[1] != "after" {
		t.Errorf("file holds %q, want before and after", got)
	}
	if s.Dropping() {
		t.Error("Dropping() = true after a successful write")
	}
	if got := <-changes; got {
		t.Error("the second change reported is not the end of dropping")
	}
	if s.Dropped() != 2 {
		t.Errorf("Dropped() = %d, want 2", s.Dropped())
	}
}

func TestWriterRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "respawn.log")
	var rotated []*os.File
	w, err := OpenWriter(pathDir(filepath.Dir(path)), filepath.Base(path), Options{MaxSize: 100, MaxFiles: 2}, func(f *os.File) { rotated = append(rotated, f) })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	line := strings.Repeat("x", 39) + "\n" // 40 bytes
	for i := 0; i < 10; i++ {
		w.Write([]byte(line))
	}
	for _, p := range []string{path, rotatedName(path, 1), rotatedName(path, 2)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 100 {
			t.Errorf("%s holds %d bytes, more than MaxSize 100", p, fi.Size())
		}
	}
	if _, err := os.Stat(rotatedName(path, 3)); err == nil {
		t.Errorf("%s kept beyond MaxFiles 2", rotatedName(path, 3))
	}
	if len(rotated) != 4 { // 10 lines, 2 per file: 4 rotations
		t.Errorf("onRotate called %d times, want 4", len(rotated))
	}
	if w.Dropped() != 0 {
		t.Errorf("Dropped() = %d, want 0", w.Dropped())
	}
}

func TestWriterSurvivesFailedWritesAndResumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "respawn.log")
	w, err := OpenWriter(pathDir(filepath.Dir(path)), filepath.Base(path), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var changes []bool
	w.OnDrops(func(d bool) { changes = append(changes, d) })

	w.Write([]byte("one\n"))
	restore := failWrites(t, &w.mu, &w.f.file)
	if n, err := w.Write([]byte("two\nthree\n")); n != 10 || err != nil {
		t.Errorf("Write during failure = %d, %v; want 10, nil", n, err)
	}
	w.Write([]byte("four")) // no newline: counted as a line
	if w.Dropped() != 3 || !w.Dropping() {
		t.Errorf("Dropped() = %d, Dropping() = %v; want 3, true", w.Dropped(), w.Dropping())
	}
	restore()
	w.Write([]byte("five\n"))
	if w.Dropping() {
		t.Error("Dropping() = true after a successful write")
	}
	if fmt.Sprint(changes) != "[true false]" {
		t.Errorf("drop changes = %v, want [true false]", changes)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		got = append(got, sc.Text())
	}
	want := []string{"one", "respawn: 3 lines of this log were dropped: writes failed", "five"}
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Errorf("file holds %q, want %q", got, want)
	}
}
