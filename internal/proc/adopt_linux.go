package proc

import (
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// Adopt takes over pid, the daemon that the launcher last spawned for service
// name left behind when it exited (kind forking): as child subreaper we
// inherited it. Its exit status is then delivered to the returned Process,
// which is contained like the launcher was (the same cgroup in cgroup mode)
// and signalled through the process group the daemon is in. Stdout and Stderr
// are nil: the daemon writes wherever the launcher pointed it.
//
// It fails with an error wrapping os.ErrProcessDone when pid no longer exists
// (also when it already exited and was reaped as an unknown orphan),
// ErrNotChild when it is someone else's (or, in cgroup mode, outside the
// service's cgroup), ErrTracked when it is already a tracked Process, and
// ErrInvalidPid or ErrInvalidName for bad arguments.
func (m *Manager) Adopt(name string, pid int) (*Process, error) {
	if !validServiceName(name) {
		return nil, fmt.Errorf("adopt %q: %w", name, ErrInvalidName)
	}
	if pid <= 0 {
		return nil, fmt.Errorf("adopt %s (pid %d): %w", name, pid, ErrInvalidPid)
	}
	for {
		s, err := m.service(name)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		if s.forgotten {
			s.mu.Unlock()
			continue // as in Spawn: a fresh entry serves the adoption
		}
		p, err := m.adoptLocked(s, name, pid)
		s.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("adopt %s (pid %d): %w", name, pid, err)
		}
		return p, nil
	}
}

func (m *Manager) adoptLocked(s *service, name string, pid int) (*Process, error) {
	p := &Process{name: name, pid: pid, startedAt: time.Now(), done: make(chan struct{}), cg: s.cg}
	if s.cg == nil {
		p.track = m.newTracking()
	}
	p.oomBase, p.oomKnown = p.oomKills()
	startReaper()
	// The checks run with the reaper locked, after registering: the pid cannot
	// be reaped (and its number reused) while they run, and if they pass, its
	// exit status is certain to come to p.
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	if _, ok := reaper.procs[pid]; ok {
		return nil, ErrTracked
	}
	reaper.procs[pid] = p
	p.onExit = m.onExit
	if err := checkAdoptable(pid, s.cg); err != nil {
		delete(reaper.procs, pid)
		return nil, err
	}
	// A Process of its own from now on, not a descendant of the launcher's;
	// the caller records it as the service's main process.
	_ = forgetTrackedLocked(pid)
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		// Unreachable for an unreaped child; if it happens, stay off groups.
		p.pgid = pid
		p.groupGone.Store(true)
	} else {
		p.pgid = pgid
	}
	s.last = p
	m.logger.Debug("adopted", "service", name, "pid", pid, "pgid", p.pgid)
	return p, nil
}

// checkAdoptable says whether pid is an unreaped child of ours and, when cg is
// set and it still runs, a member of cg.
func checkAdoptable(pid int, cg *cgroupDir) error {
	st, ok := observe.Read(pid)
	if !ok {
		return os.ErrProcessDone
	}
	if st.Ppid != os.Getpid() {
		return fmt.Errorf("parent is pid %d: %w", st.Ppid, ErrNotChild)
	}
	// A zombie has left its cgroup's member list; its status is all that is left.
	if cg == nil || st.State == 'Z' {
		return nil
	}
	pids, err := cg.procs()
	if err != nil {
		return err
	}
	if !slices.Contains(pids, pid) {
		return fmt.Errorf("not in cgroup %s: %w", cg.path, ErrNotChild)
	}
	return nil
}
