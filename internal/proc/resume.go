package proc

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// Child is a process that survived an in-place re-exec (Reexec) of the
// supervisor, started by the previous image for service Name and still our
// child. The previous image hands its Pid, Pgid and StartedAt to the new one.
//
// With Options.Resume set, NewManager registers every Child with the reaper
// before anything waits for children, so an exit during the re-exec keeps its
// status. In cgroup mode it kills nothing: it reuses the base cgroup and each
// service's cgroup the previous image made, so the resumed tree is signalled,
// killed and awaited as a whole as before; a Child whose service has no
// cgroup there (the previous image used process groups) is handled through
// its Pgid, and the Manager then sets up cgroups afresh for new spawns.
type Child struct {
	Name string
	Pid  int
	// Pgid is the process group signalled as the process's tree; 0 means Pid.
	Pgid      int
	StartedAt time.Time
}

// Resumed returns the Processes taken over from Options.Resume, in the same
// order. Their Stdout and Stderr are nil: the caller kept the pipes across
// the re-exec. A Child that was not our child any more (its end was collected
// before the re-exec) is returned ended, with an Exit whose Unknown is set.
func (m *Manager) Resumed() []*Process {
	return append([]*Process(nil), m.resumed...)
}

// checkResume rejects a Resume list that cannot describe our children.
func checkResume(children []Child) error {
	seen := make(map[int]bool, len(children))
	for _, c := range children {
		if !validServiceName(c.Name) {
			return fmt.Errorf("resume %q: %w", c.Name, ErrInvalidName)
		}
		if c.Pid <= 0 || c.Pgid < 0 {
			return fmt.Errorf("resume %s (pid %d, pgid %d): %w", c.Name, c.Pid, c.Pgid, ErrInvalidPid)
		}
		if seen[c.Pid] {
			return fmt.Errorf("resume %s (pid %d): listed twice: %w", c.Name, c.Pid, ErrTracked)
		}
		seen[c.Pid] = true
	}
	return nil
}

// resume takes over opts.Resume and sets up containment without cleaning up.
func (m *Manager) resume(opts Options) error {
	var base *cgroupDir
	var cgs map[string]*cgroupDir
	var cgErr error
	if !opts.NoCgroup {
		// Opening directories forks nothing and waits for nothing, so it may
		// come before the registration, which then builds complete Processes.
		base, cgs, cgErr = resumeCgroups(opts.InstanceID)
	}
	procs := make([]*Process, len(opts.Resume))
	for i, c := range opts.Resume {
		p := &Process{name: c.Name, pid: c.Pid, pgid: c.Pgid, startedAt: c.StartedAt, done: make(chan struct{}), cg: cgs[c.Name]}
		if p.cg == nil {
			p.track = m.newTracking()
		}
		if p.pgid == 0 {
			p.pgid = p.pid
		}
		if p.startedAt.IsZero() {
			p.startedAt = time.Now()
		}
		// OOM kills before the re-exec were the previous image's to report.
		p.oomBase, p.oomKnown = p.oomKills()
		procs[i] = p
	}
	if err := registerResumed(procs, m.onExit); err != nil {
		releaseCgroups(base, cgs)
		return err
	}
	// Only now may the reaper wait for children; a loop already running (a
	// second Manager in this process) is woken for the exits found above.
	startReaper()
	wakeReaper()
	startForker()

	m.resumed = procs
	for name, cg := range cgs {
		m.services[name] = &service{cg: cg}
	}
	for _, p := range procs {
		s := m.services[p.name]
		if s == nil {
			s = &service{}
			m.services[p.name] = s
		}
		s.last = p // "never two instances": the next spawn kills what is left
		if p.exit.Unknown {
			m.logger.Warn("resumed process is no child of ours; its exit status is lost", "service", p.name, "pid", p.pid)
		}
	}
	switch {
	case base != nil:
		m.useCgroups(base)
	case opts.NoCgroup:
		m.logger.Info("containing services by process group", "reason", "cgroups disabled by option")
	case cgErr != nil:
		// Setting up afresh would kill the resumed services.
		m.logger.Warn("containing services by process group", "reason", cgErr.Error())
	default:
		// The previous image used process groups: no cgroup holds anything of ours.
		m.setupCgroups(opts.InstanceID)
	}
	m.logger.Debug("resumed processes", "count", len(procs), "containment", string(m.containment))
	return nil
}

// registerResumed hands the reaper the Processes of resumed children. The
// exit status of one that ended already (possibly during the re-exec, when no
// SIGCHLD handler was there) is collected here, under the reaper's lock;
// one that is not our child any more ends with an unknown status. onExit is
// called for those from the reap loop.
func registerResumed(procs []*Process, onExit func(*Process)) error {
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	for _, p := range procs {
		if _, ok := reaper.procs[p.pid]; ok {
			return fmt.Errorf("resume %s (pid %d): %w", p.name, p.pid, ErrTracked)
		}
	}
	for _, p := range procs {
		p.onExit = onExit
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(p.pid, &ws, syscall.WNOHANG, nil)
		for errors.Is(err, syscall.EINTR) {
			pid, err = syscall.Wait4(p.pid, &ws, syscall.WNOHANG, nil)
		}
		switch {
		case err == nil && pid == 0:
			reaper.procs[p.pid] = p
			continue
		case err == nil && pid == p.pid:
			p.exit = exitFromStatus(ws, time.Now())
			reaper.reaped++
		default:
			// ECHILD: its number may belong to a stranger now, and so may its group.
			p.exit = Exit{Code: -1, Unknown: true, At: time.Now()}
			p.groupGone.Store(true)
		}
		close(p.done)
		reaper.vanished = append(reaper.vanished, p)
	}
	return nil
}
