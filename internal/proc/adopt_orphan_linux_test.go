package proc

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// Without a subreaper a forking service's daemon goes to init; the keeper
// takes it only if it started after the launcher and runs as the launcher's
// user. (The test process may be a subreaper already, so the orphan path is
// driven directly; the end-to-end suite's POSIX run covers the whole way.)
func TestAdoptOrphanChecksStartAndUser(t *testing.T) {
	exited := make(chan *Process, 4)
	m := newManagerWith(t, Options{NoCgroup: true, OnExit: func(p *Process) { exited <- p }})
	before := exec.Command("sleep", "1031")
	if err := before.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { before.Process.Kill(); before.Wait() })
	// A later start time, to the clock tick.
	waitNextTick(t, before.Process.Pid)
	launcher := spawn(t, m, shSpec("daemon", "exit 0"))
	waitDone(t, launcher)
	s, err := m.service("daemon")
	if err != nil {
		t.Fatal(err)
	}
	adopt := func(pid int) (*Process, error) {
		st, ok := observe.Read(pid)
		if !ok {
			t.Fatalf("pid %d gone", pid)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return m.adoptOrphanLocked(s, "daemon", pid, st)
	}

	if _, err := adopt(before.Process.Pid); !errors.Is(err, ErrNotChild) || !strings.Contains(err.Error(), "started before the launcher") {
		t.Errorf("a process older than the launcher: %v, want ErrNotChild", err)
	}

	if os.Geteuid() == 0 {
		other := exec.Command("sleep", "1032")
		other.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		if err := other.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { other.Process.Kill(); other.Wait() })
		waitNextTickAfter(t, launcher)
		if _, err := adopt(other.Process.Pid); !errors.Is(err, ErrNotChild) || !strings.Contains(err.Error(), "runs as uid 65534") {
			t.Errorf("another user's process: %v, want ErrNotChild", err)
		}
	}

	daemon := exec.Command("sleep", "1033")
	daemon.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	reaped := make(chan struct{})
	go func() { daemon.Wait(); close(reaped) }()
	p, err := adopt(daemon.Process.Pid)
	if err != nil {
		t.Fatalf("the launcher's daemon: %v", err)
	}
	if !p.orphanGroup || p.watch == nil {
		t.Fatalf("adopted orphan: orphanGroup %v, watched %v", p.orphanGroup, p.watch != nil)
	}
	if err := p.KillTree(); err != nil {
		t.Fatal(err)
	}
	<-reaped
	for got := (*Process)(nil); got != p; {
		select {
		case got = <-exited: // the launcher's end comes first
		case <-time.After(deadline):
			t.Fatal("OnExit never heard of the orphan's end")
		}
	}
	if !p.Exit().Unknown {
		t.Errorf("the orphan's exit %+v, want an unknown status", p.Exit())
	}
	treeGone(t, p)
}

// waitNextTick waits until a process started now would have a later start
// time than pid.
func waitNextTick(t *testing.T, pid int) {
	t.Helper()
	start, err := observe.StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	waitTickPast(t, start)
}

func waitNextTickAfter(t *testing.T, p *Process) { waitTickPast(t, p.track.start) }

// waitTickPast waits until this process's clock, in ticks since boot, is
// past start: /proc/self/stat's start time is fixed, so a child's is read.
func waitTickPast(t *testing.T, start uint64) {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		c := exec.Command("true")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		now, err := observe.StartTime(c.Process.Pid)
		c.Wait()
		if err == nil && now > start {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the clock did not pass a tick")
}
