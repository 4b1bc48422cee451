//go:build linux || darwin || freebsd

package proc

import (
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/platform"
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
//
// Without a subreaper (the POSIX path, macOS) the daemon went to init: it is
// then taken as the service's only if it started after the launcher and runs
// as the user the launcher was started as — a pidfile naming anyone else's
// process is refused — and it is watched as an external process is (its exit
// status is unknown; signals reach it alone).
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
	if !platform.Current().Subreaper {
		if st, ok := observe.Read(pid); ok && st.Ppid != os.Getpid() {
			return m.adoptOrphanLocked(s, name, pid, st)
		}
	}
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

// adoptOrphanLocked takes over pid, the daemon a launcher left to init, as a
// watched process (see Adopt).
func (m *Manager) adoptOrphanLocked(s *service, name string, pid int, st observe.Stat) (*Process, error) {
	launcher := s.last
	if launcher == nil || launcher.track == nil || launcher.track.start == 0 {
		return nil, fmt.Errorf("parent is pid %d and no launcher of this service to compare it with: %w", st.Ppid, ErrNotChild)
	}
	if st.Start < launcher.track.start {
		return nil, fmt.Errorf("parent is pid %d and it started before the launcher: %w", st.Ppid, ErrNotChild)
	}
	uid, err := processUID(pid)
	if err != nil {
		return nil, fmt.Errorf("parent is pid %d: %w: %w", st.Ppid, ErrNotChild, err)
	}
	if uid != launcher.uid {
		return nil, fmt.Errorf("parent is pid %d and it runs as uid %d, the launcher as %d: %w", st.Ppid, uid, launcher.uid, ErrNotChild)
	}
	p, err := WatchPid(name, pid)
	if err != nil {
		return nil, err
	}
	p.uid = uid
	p.orphanGroup = st.Pgrp == pid
	s.last = p
	if onExit := m.onExit; onExit != nil {
		// No wait4 brings its end to the reaper: the watch does.
		go func() {
			<-p.done
			onExit(p)
		}()
	}
	m.logger.Debug("adopted an orphan", "service", name, "pid", pid, "ppid", st.Ppid)
	return p, nil
}
