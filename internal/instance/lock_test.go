package instance

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/statedir"
)

func TestAcquireHoldsTheDirAndNamesItsHolder(t *testing.T) {
	dir, err := statedir.Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	l, err := Acquire(dir, "/srv/a.yaml", 12345)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dir.Join(LockName))
	if err != nil || string(b) != strconv.Itoa(os.Getpid())+"\n/srv/a.yaml\nstart 12345\n" {
		t.Fatalf("lock holds %q (%v)", b, err)
	}
	// flock locks belong to the open file: a second open is a second holder.
	_, err = Acquire(dir, "/srv/b.yaml", 0)
	var running *AlreadyRunningError
	if !errors.As(err, &running) || running.Pid != os.Getpid() || running.Config != "/srv/a.yaml" || running.StateDir != dir.Path() {
		t.Fatalf("second acquire: %v, want AlreadyRunningError naming pid %d and /srv/a.yaml", err, os.Getpid())
	}
	if !running.OtherConfig("/srv/b.yaml") || running.OtherConfig("/srv/a.yaml") {
		t.Errorf("OtherConfig does not tell the configs apart")
	}
	if err := WaitUnlocked(dir.Join(LockName), time.Now()); err == nil {
		t.Fatal("WaitUnlocked returned while the lock is held")
	}
	l.Release()
	if err := WaitUnlocked(dir.Join(LockName), time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dir.Join(LockName)); len(b) != 0 {
		t.Errorf("a released lock still holds %q", b)
	}
	l2, err := Acquire(dir, "/srv/b.yaml", 0)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	l2.Release()
}

func TestWaitUnlockedDoesNotFollowASymlink(t *testing.T) {
	d := t.TempDir()
	target := filepath.Join(d, "fifo")
	if err := os.Symlink(target, filepath.Join(d, LockName)); err != nil {
		t.Fatal(err)
	}
	if err := WaitUnlocked(filepath.Join(d, LockName), time.Now()); err != nil {
		t.Fatalf("a symlinked lock counts as held: %v", err)
	}
}
