package client

import (
	"os"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// With the holder's start time in the lock, the holder is told apart from a
// later process by that alone: a lock file's time from a wall clock set since
// (here, one that would call this process a later one) does not matter.
func TestProcessAliveByStartTime(t *testing.T) {
	st, err := observe.Of(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	longAgo := time.Unix(0, 0)
	if !processAlive(os.Getpid(), st.Start, longAgo) {
		t.Error("the holder named with its start time is not alive")
	}
	if processAlive(os.Getpid(), st.Start+1, time.Now()) {
		t.Error("a process with another start time is taken for the holder")
	}
	// Without it, the lock file's time decides.
	if processAlive(os.Getpid(), 0, longAgo) {
		t.Error("a process started after the lock was written is taken for the holder")
	}
	if !processAlive(os.Getpid(), 0, time.Now()) {
		t.Error("the holder, started before its lock was written, is not alive")
	}
	if processAlive(1<<22+7, 0, time.Now()) {
		t.Error("a pid nobody has is alive")
	}
}
