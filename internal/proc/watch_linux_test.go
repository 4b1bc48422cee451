package proc

import (
	"context"
	"errors"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

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
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outer, pid := startGrandchild(t, m, "outer-"+tc.name)
			w, err := WatchPid("ext", pid)
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

func TestWatchPidWaitTreeGoneHonorsContext(t *testing.T) {
	m := newManager(t, true)
	outer, pid := startGrandchild(t, m, "outer")
	w, err := WatchPid("ext", pid)
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
	if _, err := WatchPid("ext", gone.Pid()); !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("WatchPid(reaped pid): %v, want os.ErrProcessDone", err)
	}
	if _, err := WatchPid("ext", -3); !errors.Is(err, ErrInvalidPid) {
		t.Fatalf("WatchPid(-3): %v, want ErrInvalidPid", err)
	}
}
