package logs

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// A folder removed and made again is watched anew by the next follower, and
// a follower whose watch went with the folder polls the file from then on:
// told by the kernel when nothing held the folder, found by the check of the
// folders when a follower's open file did.
func TestFollowFileInAFolderMadeAgain(t *testing.T) {
	if n := theNotifier(); n != nil { // the check reads it under n.mu
		n.mu.Lock()
		old := dirCheckEvery
		dirCheckEvery = 50 * time.Millisecond
		n.mu.Unlock()
		t.Cleanup(func() { n.mu.Lock(); dirCheckEvery = old; n.mu.Unlock() })
	}
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "svc.log")
	writeLines(t, path, 0, 1)
	w := newWaiter(1)
	stop, ok := watchFile(path, w, 0)
	if !ok {
		t.Skip("no inotify here: followers poll")
	}
	defer stop()
	before := follow(t, path)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	// The removal wakes the follower (the file went), then says its watch
	// went with the folder.
	deadline := time.After(waitTimeout)
	for lost := []int(nil); len(lost) == 0; {
		select {
		case <-w.wake:
		case <-deadline:
			t.Fatal("the folder's removal did not end the watch")
		}
		var changed []int
		changed, lost = w.take()
		if !slices.Equal(changed, []int{0}) || (lost != nil && !slices.Equal(lost, []int{0})) {
			t.Fatalf("after the folder's removal: changed %v, lost %v; want [0] and then [0]", changed, lost)
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeLines(t, path, 0, 1)
	f := follow(t, path)
	writeLines(t, path, 1, 3)
	f.waitTexts(t, lineTexts(1, 3))
	// The follower from before the removal reads the new file by polling.
	before.waitTexts(t, lineTexts(0, 3))
}
