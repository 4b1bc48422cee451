package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/platform"
	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// watchModes are the two ways Linux watches a process not its child: through
// a pidfd, and by polling (the POSIX path).
var watchModes = []string{"pidfd", "poll"}

// watchIn calls WatchPid with pidfds in force or not, as mode says, and
// checks that the watch uses a pidfd only when they are.
func watchIn(mode string, pid int) (*Process, error) {
	if mode == "poll" {
		prev := platform.Current()
		platform.Set(platform.Portable())
		defer platform.Set(prev)
	}
	w, err := WatchPid("ext", pid)
	if err == nil && (w.watch.f == nil) != (mode == "poll") {
		return nil, fmt.Errorf("%s mode: watch with pidfd file %v", mode, w.watch.f)
	}
	return w, err
}

// startGrandchild spawns a shell that starts `sleep` in the background and
// waits for it, so the sleep is our grandchild: not ours to reap.
func startGrandchild(t *testing.T, m *Manager, name string) (*Process, int) {
	t.Helper()
	outer := spawn(t, m, shSpec(name, "sleep 1021 & echo $!; wait $!"))
	pid, err := strconv.Atoi(readLine(t, outer.Stdout()))
	if err != nil {
		t.Fatalf("read grandchild pid: %v", err)
	}
	if _, ppid, _, err := procStat(pid); err != nil || ppid != outer.Pid() {
		t.Fatalf("grandchild %d: ppid %d (err %v), want the shell %d", pid, ppid, err, outer.Pid())
	}
	return outer, pid
}

func TestWatchPid(t *testing.T) {
	m := newManager(t, true)
	cases := []struct {
		name string
		stop func(t *testing.T, w *Process)
	}{
		{"signal", func(t *testing.T, w *Process) {
			if err := w.Signal(syscall.SIGTERM); err != nil {
				t.Fatalf("Signal: %v", err)
			}
		}},
		{"killtree", func(t *testing.T, w *Process) {
			if err := w.KillTree(); err != nil {
				t.Fatalf("KillTree: %v", err)
			}
		}},
		{"killed-elsewhere", func(t *testing.T, w *Process) {
			if err := syscall.Kill(w.Pid(), syscall.SIGKILL); err != nil {
				t.Fatalf("kill: %v", err)
			}
		}},
	}
	for _, mode := range watchModes {
		for _, tc := range cases {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				outer, pid := startGrandchild(t, m, "outer-"+tc.name)
				w, err := watchIn(mode, pid)
				if err != nil {
					t.Fatalf("WatchPid: %v", err)
				}
				if w.Pid() != pid || w.Stdout() != nil || w.Stderr() != nil {
					t.Fatalf("watched: pid %d stdout %v stderr %v", w.Pid(), w.Stdout(), w.Stderr())
				}
				select {
				case <-w.Done():
					t.Fatal("Done closed while the process runs")
				default:
				}
				tc.stop(t, w)
				e := waitDone(t, w)
				if !e.Unknown || e.Code != -1 || e.Signal != 0 || e.At.IsZero() {
					t.Fatalf("Exit() = %+v, want unknown status", e)
				}
				if !w.watch.closedNow() {
					t.Fatal("pidfd still open after exit")
				}
				if err := w.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
					t.Fatalf("Signal after exit: %v, want os.ErrProcessDone", err)
				}
				if err := w.KillTree(); err != nil {
					t.Fatalf("KillTree after exit: %v", err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				defer cancel()
				if err := w.WaitTreeGone(ctx); err != nil {
					t.Fatalf("WaitTreeGone: %v", err)
				}
				// The shell that waited for it ends with it: the signal reached
				// the watched process, not a pid of ours.
				if e := waitDone(t, outer); e.Code == 0 || e.Signal != 0 {
					t.Fatalf("shell: %v, want a failure exit from its wait", e)
				}
			})
		}
	}
}

func TestWatchPidWaitTreeGoneHonorsContext(t *testing.T) {
	for _, mode := range watchModes {
		t.Run(mode, func(t *testing.T) { testWatchPidWaitTreeGoneHonorsContext(t, mode) })
	}
}

func testWatchPidWaitTreeGoneHonorsContext(t *testing.T, mode string) {
	m := newManager(t, true)
	outer, pid := startGrandchild(t, m, "outer")
	w, err := watchIn(mode, pid)
	if err != nil {
		t.Fatalf("WatchPid: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := w.WaitTreeGone(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitTreeGone on a live process: %v, want DeadlineExceeded", err)
	}
	if err := w.KillTree(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, w)
	waitDone(t, outer)
}

func TestWatchPidRefusals(t *testing.T) {
	m := newManager(t, true)
	gone := spawn(t, m, shSpec("gone", "exit 0"))
	waitDone(t, gone)
	for _, mode := range watchModes {
		if _, err := watchIn(mode, gone.Pid()); !errors.Is(err, os.ErrProcessDone) {
			t.Fatalf("%s: WatchPid(reaped pid): %v, want os.ErrProcessDone", mode, err)
		}
		if _, err := watchIn(mode, -3); !errors.Is(err, ErrInvalidPid) {
			t.Fatalf("%s: WatchPid(-3): %v, want ErrInvalidPid", mode, err)
		}
	}
}

// TestWatchPollSkipsAReusedPid: once the pid is held by a process with
// another start time, the poll path neither signals it nor waits for it.
func TestWatchPollSkipsAReusedPid(t *testing.T) {
	m := newManager(t, true)
	outer, pid := startGrandchild(t, m, "outer")
	w, err := watchIn("poll", pid)
	if err != nil {
		t.Fatal(err)
	}
	// As if the watched process had ended and another had taken its pid:
	// the live sleep now has a start time other than the watched one.
	w.watch.mu.Lock()
	w.watch.start++
	w.watch.mu.Unlock()
	if err := w.Signal(syscall.SIGKILL); !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("Signal to a reused pid: %v, want os.ErrProcessDone", err)
	}
	if err := w.KillTree(); err != nil {
		t.Fatalf("KillTree of a reused pid: %v", err)
	}
	waitDone(t, w)
	if st, ok := observe.Read(pid); !ok || st.State == 'Z' {
		t.Fatalf("the process on the reused pid was signalled: %+v, %v", st, ok)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDone(t, outer)
}
