//go:build linux

package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/proc/cleanup"
	"github.com/respawn-sh/respawn/internal/proc/observe"
	"golang.org/x/sys/unix"
)

func TestSignalThenKillTree(t *testing.T) {
	eachMode(t, func(t *testing.T, m *Manager) {
		p := spawn(t, m, shSpec("tree", "sleep 1001 & sleep 1002 & echo started; wait"))
		if got := readLine(t, p.Stdout()); got != "started" {
			t.Fatalf("got %q", got)
		}
		waitFor(t, "both sleeps", func() bool {
			return len(procsWithCmdline("sleep 1001")) == 1 && len(procsWithCmdline("sleep 1002")) == 1
		})
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("Signal(TERM): %v", err)
		}
		if err := p.KillTree(); err != nil {
			t.Fatalf("KillTree: %v", err)
		}
		treeGone(t, p)
		waitFor(t, "the sleeps to be gone", func() bool {
			return len(procsWithCmdline("sleep 1001"))+len(procsWithCmdline("sleep 1002")) == 0
		})
		waitFor(t, "no zombie children", func() bool { return len(zombieChildren()) == 0 })
		if err := p.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("Signal after the tree is gone: %v, want os.ErrProcessDone", err)
		}
		if err := p.KillTree(); err != nil {
			t.Errorf("second KillTree: %v", err)
		}
	})
}

func TestTermIgnoringChild(t *testing.T) {
	eachMode(t, func(t *testing.T, m *Manager) {
		p := spawn(t, m, shSpec("stubborn", `trap "" TERM; sleep 1005 & echo ready; wait`))
		if got := readLine(t, p.Stdout()); got != "ready" {
			t.Fatalf("got %q", got)
		}
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("Signal(TERM): %v", err)
		}
		if err := p.KillTree(); err != nil {
			t.Fatalf("KillTree: %v", err)
		}
		treeGone(t, p)
		// Killed by KILL, so TERM was ignored and KillTree did the work.
		if exit := p.Exit(); exit.Signal != int(syscall.SIGKILL) {
			t.Errorf("exit = %v, want killed by KILL", exit)
		}
		waitFor(t, "sleep 1005 to be gone", func() bool { return len(procsWithCmdline("sleep 1005")) == 0 })
	})
}

// TestSetsidGrandchild: a descendant that left the process group and
// session is reached: through the cgroup, or, in process-group mode, as the
// orphan that came to us when the main process ended.
func TestSetsidGrandchild(t *testing.T) {
	eachMode(t, testSetsidGrandchild)
}

func testSetsidGrandchild(t *testing.T, m *Manager) {
	p := spawn(t, m, shSpec("escaper", "setsid sleep 1006 & echo started"))
	readLine(t, p.Stdout())
	waitDone(t, p)
	var pid int
	waitFor(t, "sleep 1006 in its own session", func() bool {
		pids := procsWithCmdline("sleep 1006")
		if len(pids) != 1 {
			return false
		}
		_, _, session, err := procStat(pids[0])
		pid = pids[0]
		return err == nil && session == pid
	})
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal(TERM) with only the escaped grandchild left: %v", err)
	}
	waitFor(t, "TERM to kill the escaped grandchild", func() bool { return processGone(pid) })
	if err := p.KillTree(); err != nil {
		t.Fatalf("KillTree: %v", err)
	}
	treeGone(t, p)
	if err := p.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after the tree is gone: %v", err)
	}
}

func TestSetsidGrandchildKillTree(t *testing.T) {
	eachMode(t, testSetsidGrandchildKillTree)
}

func testSetsidGrandchildKillTree(t *testing.T, m *Manager) {
	p := spawn(t, m, shSpec("escaper", `setsid sh -c 'trap "" TERM; sleep 1010 & wait' & echo started; wait`))
	readLine(t, p.Stdout())
	waitFor(t, "sleep 1010", func() bool { return len(procsWithCmdline("sleep 1010")) == 1 })
	if err := p.KillTree(); err != nil {
		t.Fatalf("KillTree: %v", err)
	}
	treeGone(t, p)
	waitFor(t, "sleep 1010 to be gone", func() bool { return len(procsWithCmdline("sleep 1010")) == 0 })
}

// TestOrphanReaped: a double-forked descendant comes back to us (subreaper)
// and is reaped when it dies.
func TestOrphanReaped(t *testing.T) {
	m := newManager(t, true)
	p := spawn(t, m, shSpec("daemon", "sleep 1004 & echo $!"))
	pid, err := strconv.Atoi(readLine(t, p.Stdout()))
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, p)
	waitFor(t, "the orphan to be re-parented to us", func() bool {
		_, ppid, _, err := procStat(pid)
		return err == nil && ppid == os.Getpid()
	})
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// A zombie stays in /proc until reaped: its disappearance proves the reap.
	waitFor(t, "the orphan to be reaped", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		return errors.Is(err, os.ErrNotExist)
	})
	if z := zombieChildren(); len(z) != 0 {
		t.Errorf("zombie children left: %v", z)
	}
}

func TestMarkInheritedCloexec(t *testing.T) {
	m := newManager(t, true)
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const leaky = 100
	// dup3 without O_CLOEXEC: the way an inherited fd looks.
	if err := unix.Dup3(int(f.Fd()), leaky, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(leaky)
	listFDs := func() []string {
		out, exit := run(t, m, shSpec("fds", "ls /proc/$$/fd"))
		if exit.Code != 0 {
			t.Fatalf("ls: %v", exit)
		}
		return strings.Fields(out)
	}
	has := func(fds []string) bool {
		for _, fd := range fds {
			if fd == strconv.Itoa(leaky) {
				return true
			}
		}
		return false
	}
	if fds := listFDs(); !has(fds) {
		t.Fatalf("control: fd %d did not leak before marking (child fds %v)", leaky, fds)
	}
	if err := MarkInheritedCloexec(); err != nil {
		t.Fatalf("MarkInheritedCloexec: %v", err)
	}
	if fds := listFDs(); has(fds) {
		t.Errorf("fd %d leaked into the child after marking: %v", leaky, fds)
	}
}

func TestWaitTreeGoneHonoursContext(t *testing.T) {
	eachMode(t, func(t *testing.T, m *Manager) {
		p := spawn(t, m, shSpec("long", "exec sleep 1013"))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := p.WaitTreeGone(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("WaitTreeGone with a cancelled context: %v", err)
		}
		if err := p.KillTree(); err != nil {
			t.Fatal(err)
		}
		treeGone(t, p)
	})
}

// TestManyConcurrentStops: stopping many services at once needs no scarce
// per-wait kernel resource.
func TestManyConcurrentStops(t *testing.T) {
	eachMode(t, func(t *testing.T, m *Manager) {
		const n = 150
		procs := make([]*Process, n)
		for i := range n {
			procs[i] = spawn(t, m, Spec{Name: fmt.Sprintf("stop-%d", i), Args: []string{"sleep", "1014"}, Env: testEnv()})
		}
		errs := make(chan error, n)
		for _, p := range procs {
			go func() {
				if err := p.KillTree(); err != nil {
					errs <- err
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				defer cancel()
				errs <- p.WaitTreeGone(ctx)
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		for _, p := range procs {
			if exit := p.Exit(); exit.Signal != int(syscall.SIGKILL) {
				t.Errorf("pid %d: %v", p.Pid(), exit)
			}
		}
	})
}

// TestProcessGroupTracking: in process-group mode a descendant that left the
// group is found, reported to OnTrack with its start time, signalled with
// the group and waited for; an orphan older than a run is not counted as
// that run's when it ends; KillOrphans ends what nobody claims.
func TestProcessGroupTracking(t *testing.T) {
	type note struct {
		rec  cleanup.Record
		live bool
	}
	notes := make(chan note, 64)
	m := newManagerWith(t, Options{NoCgroup: true, OnTrack: func(r cleanup.Record, live bool) { notes <- note{r, live} }})

	// An orphan of ours, older than the next run, whose parent (a subshell,
	// not the main process) ended: nobody's.
	stray := spawn(t, m, shSpec("stray", "(setsid sleep 1020 &); echo started; exec sleep 1022"))
	readLine(t, stray.Stdout())
	waitFor(t, "sleep 1020 to be our orphan", func() bool {
		pids := procsWithCmdline("sleep 1020")
		if len(pids) != 1 {
			return false
		}
		_, ppid, _, err := procStat(pids[0])
		return err == nil && ppid == os.Getpid()
	})
	// A sweep remembers it as nobody's (its start time may share a clock
	// tick with the next run's, which would not tell it from that run's).
	waitFor(t, "sleep 1020 to be remembered as nobody's", func() bool {
		m.Track()
		pids := procsWithCmdline("sleep 1020")
		tracker.mu.Lock()
		defer tracker.mu.Unlock()
		o, ok := tracker.owners[pids[0]]
		return ok && o.owner == nil
	})

	p := spawn(t, m, shSpec("esc", `setsid sh -c 'trap "" TERM; sleep 1021' & echo started; wait`))
	readLine(t, p.Stdout())
	waitFor(t, "sleep 1021", func() bool { return len(procsWithCmdline("sleep 1021")) == 1 })
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal: %v", err)
	}
	esc := procsWithCmdline("sleep 1021")
	if len(esc) != 1 || !slices.Contains(p.Descendants(), esc[0]) {
		t.Fatalf("descendants %v do not hold sleep 1021 %v", p.Descendants(), esc)
	}
	start, err := observe.StartTime(esc[0])
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for !found {
		select {
		case n := <-notes:
			found = n.live && n.rec.Pid == esc[0] && n.rec.Start == start
		case <-time.After(deadline):
			t.Fatalf("OnTrack never reported pid %d", esc[0])
		}
	}
	// TERM ended the main process and sleep 1021 (its parent ignores TERM).
	waitDone(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := p.WaitTreeGone(ctx); err == nil {
		t.Fatal("tree gone while the setsid sh still runs")
	}
	if err := p.KillTree(); err != nil {
		t.Fatal(err)
	}
	treeGone(t, p)

	strays := procsWithCmdline("sleep 1020")
	if len(strays) != 1 {
		t.Fatalf("stray sleep 1020: %v", strays)
	}
	if slices.Contains(p.Descendants(), strays[0]) || slices.Contains(stray.Descendants(), strays[0]) {
		t.Errorf("an orphan nobody can claim was counted as a service's")
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), deadline)
	defer cancel2()
	if err := m.KillOrphans(ctx2); err != nil {
		t.Fatalf("KillOrphans: %v", err)
	}
	waitFor(t, "the stray to be gone", func() bool { return processGone(strays[0]) })
}

// TestTrackedPidReusedIsNotSignalled: a tracked descendant whose pid now
// belongs to a process with another start time is never signalled.
func TestTrackedPidReusedIsNotSignalled(t *testing.T) {
	m := newManager(t, true)
	other := spawn(t, m, Spec{Name: "other", Args: []string{"sleep", "1023"}, Env: testEnv()})
	p := spawn(t, m, Spec{Name: "main", Args: []string{"sleep", "1024"}, Env: testEnv()})
	start, err := observe.StartTime(other.Pid())
	if err != nil {
		t.Fatal(err)
	}
	// As if p had tracked a descendant with other's pid that has ended since.
	tracker.mu.Lock()
	p.track.desc[other.Pid()] = start + 1
	tracker.mu.Unlock()
	if err := p.KillTree(); err != nil {
		t.Fatal(err)
	}
	treeGone(t, p)
	select {
	case <-other.Done():
		t.Fatalf("pid %d, not the one tracked, was killed: %v", other.Pid(), other.Exit())
	default:
	}
	if slices.Contains(p.Descendants(), other.Pid()) {
		t.Errorf("a descendant with another start time is still tracked")
	}
}
