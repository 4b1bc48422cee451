package logs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// follower runs FollowFile in the background and collects what it emits.
type followed struct {
	mu    sync.Mutex
	lines []Line
	more  chan struct{} // signalled on every line
	err   error
	done  chan struct{}
	stop  context.CancelFunc
}

func follow(t *testing.T, path string) *followed {
	t.Helper()
	fl, err := OpenFollower(path)
	if err != nil {
		t.Fatal(err)
	}
	return runFollower(t, fl)
}

func runFollower(t *testing.T, fl *Follower) *followed {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &followed{more: make(chan struct{}, 1), done: make(chan struct{}), stop: cancel}
	go func() {
		defer close(f.done)
		defer fl.Close()
		f.err = fl.Follow(ctx, func(l Line) error {
			f.mu.Lock()
			f.lines = append(f.lines, l)
			f.mu.Unlock()
			select {
			case f.more <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-f.done })
	return f
}

func (f *followed) texts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return texts(f.lines, 0)
}

// waitTexts waits until the follower has emitted exactly want.
func (f *followed) waitTexts(t *testing.T, want []string) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		got := f.texts()
		if slices.Equal(got, want) {
			return
		}
		if len(got) > len(want) || !slices.Equal(got, want[:len(got)]) {
			t.Fatalf("followed %q, want %q", got, want)
		}
		select {
		case <-f.more:
		case <-deadline:
			t.Fatalf("followed %q after %v, want %q", got, waitTimeout, want)
		}
	}
}

func TestFollowFileNewLinesOnlyAcrossRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.log")
	writeLines(t, path, 0, 5)
	appendRaw(t, path, string(FormatLine(nil, Line{Time: t0, Text: "half"})[:prefixLen+2])) // "ha" of a line being written
	f := follow(t, path)
	appendRaw(t, path, "lf\n")
	writeLines(t, path, 5, 7)
	f.waitTexts(t, []string{"half", "line 5", "line 6"})
	// Rotate as the sink does: the old file gets its last lines, then is renamed, and a
	// new one is created.
	writeLines(t, path, 7, 8)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	writeLines(t, path, 8, 10)
	f.waitTexts(t, append([]string{"half"}, lineTexts(5, 10)...))
	// A restart appends to the same file.
	writeLines(t, path, 10, 11)
	f.waitTexts(t, append([]string{"half"}, lineTexts(5, 11)...))
	f.stop()
	<-f.done
	if f.err != nil {
		t.Errorf("Follow after cancel: %v, want nil", f.err)
	}
}

func TestFollowFileWaitsForTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later", "svc.log")
	f := follow(t, path)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	writeLines(t, path, 0, 3)
	f.waitTexts(t, lineTexts(0, 3))
}

func TestFollowerHistoryThenFollowNoGapNoRepeat(t *testing.T) {
	path := rotatedSet(t)
	fl, err := OpenFollower(path)
	if err != nil {
		t.Fatal(err)
	}
	// Written after the open and before History: Follow's, not History's.
	writeLines(t, path, 30, 32)
	hist, err := fl.History(time.Time{}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(texts(hist, 0), lineTexts(26, 30)) {
		t.Fatalf("history %q", texts(hist, 0))
	}
	f := runFollower(t, fl)
	f.waitTexts(t, lineTexts(30, 32))
}

func TestFollowerHistoryAfterRotation(t *testing.T) {
	path := rotatedSet(t)
	fl, err := OpenFollower(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	// Two rotations since the open: the live file is now path.2, with path.1 and path
	// newer than the position.
	for _, from := range []int{30, 40} {
		for i := 3; i >= 1; i-- {
			os.Rename(rotatedName(path, i), rotatedName(path, i+1))
		}
		os.Rename(path, path+".1")
		writeLines(t, path, from, from+10)
	}
	hist, err := fl.History(time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(texts(hist, 0), lineTexts(0, 30)) {
		t.Fatalf("history %q, want lines 0..29", texts(hist, 0))
	}
}

func TestFollowFileKeepsUpWithARotatingSink(t *testing.T) {
	c := newCapture(t)
	// Many rotations between two looks of the follower: it must walk through every
	// rotated file rather than jump to the live one.
	s := openSink(t, c, Options{MaxSize: 4 << 10, MaxFiles: 1000})
	f := follow(t, s.Path())
	w, done := attachPipe(t, s, Stdout)
	data, want := numbered("f", 20000)
	waitW := writeAsync(w, data, 200)
	waitDone(t, done)
	if err := waitW(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Path() + ".4"); err != nil {
		t.Fatalf("expected rotations: %v", err)
	}
	f.waitTexts(t, want)
}

func TestFollowFileReturnsEmitError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.log")
	writeLines(t, path, 0, 1)
	errStop := errors.New("stop")
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	result := make(chan error, 1)
	go func() {
		result <- FollowFile(ctx, path, func(Line) error { return errStop })
	}()
	// FollowFile may or may not have opened the file by now: write until it returns.
	for i := 1; ; i++ {
		writeLines(t, path, i, i+1)
		select {
		case err := <-result:
			if !errors.Is(err, errStop) {
				t.Fatalf("FollowFile = %v, want the emit error", err)
			}
			return
		case <-time.After(followEvery):
		case <-ctx.Done():
			t.Fatal("FollowFile did not return the emit error")
		}
	}
}

func TestFollowUnparseableLineTakesPreviousTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.log")
	writeLines(t, path, 0, 1)
	fl, err := OpenFollower(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fl.History(time.Time{}, 1); err != nil {
		t.Fatal(err)
	}
	f := runFollower(t, fl)
	appendRaw(t, path, "not ours\n")
	writeLines(t, path, 3, 4)
	f.waitTexts(t, []string{"not ours", "line 3"})
	f.mu.Lock()
	defer f.mu.Unlock()
	if l := f.lines[0]; !l.Time.Equal(t0) || l.Stream != Stdout {
		t.Errorf("unparseable line %+v: want stdout at line 0's time", l)
	}
}

// pollTexts runs one look of fl and returns the texts it emitted.
func pollTexts(t *testing.T, fl *Follower) []string {
	t.Helper()
	var got []string
	if err := fl.poll(make([]byte, backChunk), func(l Line) error { got = append(got, l.Text); return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

// rotateByHand shifts path.(n-1) → path.n … path → path.1 as the sink does with
// MaxFiles n, then writes line i into a new live file.
func rotateByHand(t *testing.T, path string, n, i int) {
	t.Helper()
	for k := n - 1; k >= 1; k-- {
		if err := os.Rename(rotatedName(path, k), rotatedName(path, k+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	if err := os.Rename(path, rotatedName(path, 1)); err != nil {
		t.Fatal(err)
	}
	writeLines(t, path, i, i+1)
}

func TestFollowerRotatedOutOfTheKeptFilesGoesOnWithTheOldestKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.log")
	writeLines(t, path, 0, 1)
	fl, err := OpenFollower(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	writeLines(t, path, 1, 2)
	// Three rotations keeping two files: the file being followed is dropped while the
	// follower still reads it; the two kept files after it must not be skipped.
	for i := 2; i <= 4; i++ {
		rotateByHand(t, path, 2, i)
	}
	if got, want := pollTexts(t, fl), lineTexts(1, 5); !slices.Equal(got, want) {
		t.Fatalf("followed %q, want %q", got, want)
	}
}

func TestFollowerFileRemovedByHandGoesOnWithTheNextNewer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.log")
	writeLines(t, path, 0, 1)
	rotateByHand(t, path, 5, 1) // svc.log.1 holds line 0, the live file line 1
	fl, err := OpenFollower(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	writeLines(t, path, 2, 3)
	rotateByHand(t, path, 5, 3)
	// The followed file (now svc.log.1) is removed by hand: svc.log.2 is older than what
	// was read and must not be replayed.
	if err := os.Remove(rotatedName(path, 1)); err != nil {
		t.Fatal(err)
	}
	if got, want := pollTexts(t, fl), []string{"line 2", "line 3"}; !slices.Equal(got, want) {
		t.Fatalf("followed %q, want %q", got, want)
	}
}

// With inotify, a follower is woken by the writes themselves (a watched file
// is never polled): every line and every rotation arrives.
func TestFollowFileIsWokenByWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.log")
	writeLines(t, path, 0, 2)
	stop, ok := watchFile(path, newWaiter(1), 0)
	if !ok {
		t.Skip("no inotify here: followers poll")
	}
	stop()
	f := follow(t, path)
	writeLines(t, path, 2, 4)
	f.waitTexts(t, lineTexts(2, 4))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	writeLines(t, path, 4, 6)
	f.waitTexts(t, lineTexts(2, 6))
	// Another file of the folder wakes nobody here, and breaks nothing.
	writeLines(t, filepath.Join(filepath.Dir(path), "other.log"), 0, 1)
	writeLines(t, path, 6, 7)
	f.waitTexts(t, lineTexts(2, 7))
}

func TestRotatedBase(t *testing.T) {
	for name, want := range map[string]string{"web.log.1": "web.log", "web.log.12": "web.log", "web.log": "", "web.": "", ".1": "", "a.1": "a"} {
		got, ok := rotatedBase(name)
		if got != want || ok != (want != "") {
			t.Errorf("rotatedBase(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}

// One loop follows many files: a write wakes it for that file alone, every
// file's lines arrive under its own index, and the loop runs on one goroutine
// whatever the number of files.
func TestFollowAllManyFilesOneGoroutine(t *testing.T) {
	dir := t.TempDir()
	const n = 200
	fls := make([]*Follower, n)
	for i := range fls {
		path := filepath.Join(dir, fmt.Sprintf("s%03d.log", i))
		writeLines(t, path, 0, 1)
		fl, err := OpenFollower(path)
		if err != nil {
			t.Fatal(err)
		}
		fls[i] = fl
		t.Cleanup(func() { fl.Close() })
	}
	type got struct {
		i    int
		text string
	}
	lines := make(chan got, 2*n)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- FollowAll(ctx, fls, func(i int, l Line) error {
			lines <- got{i, l.Text}
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	// Files written one by one (7 twice), each line under its file's index.
	for _, i := range []int{7, 199, 0, 7} {
		writeLines(t, fls[i].path, 1, 2)
		select {
		case g := <-lines:
			if g.i != i || g.text != "line 1" {
				t.Fatalf("after a write to file %d: got %q from file %d", i, g.text, g.i)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("the write to file %d came to no follower", i)
		}
	}
	// Every file at once: each line once.
	for i := range fls {
		writeLines(t, fls[i].path, 2, 3)
	}
	seen := make([]int, n)
	for range n {
		select {
		case g := <-lines:
			seen[g.i]++
		case <-time.After(waitTimeout):
			t.Fatalf("lines of %d files came, want %d", countNonZero(seen), n)
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Errorf("file %d: %d lines, want 1", i, c)
		}
	}
	// The goroutines that run now are the loop and the one that started it;
	// a goroutine per file would be 200 more.
	if extra := runtime.NumGoroutine() - before; extra > 3 {
		t.Errorf("following %d files runs %d more goroutines, want at most 3", n, extra)
	}
}

func countNonZero(xs []int) int {
	c := 0
	for _, x := range xs {
		if x != 0 {
			c++
		}
	}
	return c
}
