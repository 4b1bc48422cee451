package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// Process is one started service process and the tree it heads.
type Process struct {
	name string
	// pid, pgid, startedAt are set before the Process is shared (on the fork
	// thread for a spawned one).
	pid       int
	startedAt time.Time
	// pgid is the process group signalled as the tree: the pid for a spawned
	// process, whatever group an adopted daemon is in.
	pgid   int
	stdout *os.File
	stderr *os.File

	// done is closed by the reaper after it sets exit.
	done chan struct{}
	exit Exit

	// cg is the service's cgroup; nil when contained by process group.
	cg *cgroupDir
	// oomBase is the cgroup's oom_kill count when the run started; oomKnown
	// says whether it could be read (see OOMKilled).
	oomBase  uint64
	oomKnown bool
	// cpuBase is the cgroup's CPU time when the run started: a cgroup that
	// emptied by itself is reused by the next run (see Manager.spawnLocked),
	// and cpu.stat counts every run it held.
	cpuBase time.Duration
	// groupGone latches once the process group was seen empty after the main
	// process was reaped: from then on the pgid number may belong to someone
	// else and must never be signalled again.
	groupGone atomic.Bool

	// watch is set for a process that is not our child (WatchPid): it is then
	// signalled and awaited through its pidfd only.
	watch *pidWatch
	// orphanGroup marks a watched daemon adopted without a subreaper that
	// leads its own process group: the group is its tree, signalled as a
	// spawned process's is (a group's number is not reused while it has
	// members).
	orphanGroup bool

	// track is set in process-group mode: the descendants found outside the
	// group, signalled and awaited with it (see track.go).
	track *tracking

	// uid is the user the process runs as: the one a spawned process was
	// started as; an adopted orphan's must match its launcher's.
	uid int

	// onExit is the Manager's OnExit, guarded by reaper.mu (see armOnExit).
	onExit func(*Process)
}

// Pid returns the process id of the main process.
func (p *Process) Pid() int { return p.pid }

// Pgid returns the process group signalled as the tree: the pid for a
// spawned process, the group an adopted daemon is in, the recorded one for a
// resumed process.
func (p *Process) Pgid() int { return p.pgid }

// StartedAt returns when the process was forked.
func (p *Process) StartedAt() time.Time { return p.startedAt }

// Stdout returns the read end of the child's stdout pipe; the caller owns it
// and must close it.
func (p *Process) Stdout() *os.File { return p.stdout }

// Stderr returns the read end of the child's stderr pipe; the caller owns it
// and must close it.
func (p *Process) Stderr() *os.File { return p.stderr }

// Done returns a channel closed once the main process has been reaped (for a
// watched process: once it has exited).
func (p *Process) Done() <-chan struct{} { return p.done }

// Exit returns how the main process ended; valid once Done is closed.
func (p *Process) Exit() Exit {
	select {
	case <-p.done:
		return p.exit
	default:
		return Exit{}
	}
}

func (p *Process) reaped() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process group and, in cgroup mode, to every process
// of the service's cgroup, so a descendant that called setsid gets it too; in
// process-group mode, to every tracked descendant outside the group (the tree
// is scanned first). Each process receives it once. Once the tree is gone it
// returns os.ErrProcessDone. A watched process (WatchPid) alone gets it,
// through its pidfd.
func (p *Process) Signal(sig syscall.Signal) error {
	if p.watch != nil && !p.orphanGroup {
		return p.signalWatched(sig)
	}
	var delivered bool
	var err error
	if p.cg != nil {
		delivered, err = p.signalCgroup(sig)
	} else {
		delivered, err = p.signalTree(sig)
	}
	if err != nil {
		return fmt.Errorf("signal %s (pid %d): %w", p.name, p.pid, err)
	}
	if !delivered {
		return os.ErrProcessDone
	}
	return nil
}

// signalTree signals the process group and every tracked descendant outside
// it, after a scan for new ones.
func (p *Process) signalTree(sig syscall.Signal) (bool, error) {
	p.scanTree()
	delivered, err := p.signalGroup(sig)
	if err != nil {
		return delivered, err
	}
	d, err := p.signalDescendants(sig, true)
	return delivered || d, err
}

// signalGroup signals the process group, and the main process too when it
// has left that group.
func (p *Process) signalGroup(sig syscall.Signal) (bool, error) {
	reaped := p.reaped()
	delivered := false
	if !p.groupGone.Load() {
		switch err := syscall.Kill(-p.pgid, sig); {
		case err == nil:
			delivered = true
		case errors.Is(err, syscall.ESRCH):
			if reaped {
				p.groupGone.Store(true)
			}
		default:
			return false, err
		}
	}
	if !reaped && !p.inOwnGroup() {
		// While unreaped, the pid cannot be reused, so signalling it is safe.
		switch err := syscall.Kill(p.pid, sig); {
		case err == nil:
			delivered = true
		case !errors.Is(err, syscall.ESRCH):
			return delivered, err
		}
	}
	return delivered, nil
}

// inOwnGroup reports whether the main process is still in the group it was
// started in (the group signal then reaches it).
func (p *Process) inOwnGroup() bool {
	pgid, err := syscall.Getpgid(p.pid)
	return err != nil || pgid == p.pgid
}

// signalCgroup signals the group while the leader is unreaped (its pgid is then
// certainly ours) and every cgroup member outside that group individually.
func (p *Process) signalCgroup(sig syscall.Signal) (bool, error) {
	useGroup := !p.reaped()
	delivered := false
	if useGroup {
		switch err := syscall.Kill(-p.pgid, sig); {
		case err == nil:
			delivered = true
		case errors.Is(err, syscall.ESRCH):
			useGroup = false
		default:
			return false, err
		}
	}
	pids, err := p.cg.procs()
	if err != nil {
		return delivered, err
	}
	for _, pid := range pids {
		if useGroup {
			if pgid, err := syscall.Getpgid(pid); err == nil && pgid == p.pgid {
				continue // the group signal reached it
			}
		}
		switch err := syscall.Kill(pid, sig); {
		case err == nil:
			delivered = true
		case !errors.Is(err, syscall.ESRCH):
			return delivered, err
		}
	}
	return delivered, nil
}

// KillTree sends SIGKILL to the whole tree: through cgroup.kill in cgroup mode,
// to the process group and every tracked descendant otherwise (a watched
// process alone, through its pidfd).
// It is idempotent and also kills what the main process left behind after it
// exited.
func (p *Process) KillTree() error {
	if p.watch != nil && !p.orphanGroup {
		if err := p.signalWatched(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		return nil
	}
	if p.cg != nil {
		// An empty cgroup stays empty (nothing is left to fork into it), and
		// one never killed can be spawned into again.
		if pop, err := p.cg.populated(); err == nil && !pop {
			return nil
		}
		if err := p.cg.kill(); err != nil {
			return fmt.Errorf("kill %s (pid %d): %w", p.name, p.pid, err)
		}
		return nil
	}
	if _, err := p.signalTree(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s (pid %d): %w", p.name, p.pid, err)
	}
	return nil
}

// WaitTreeGone returns nil once no process of the tree remains and the main
// process has been reaped (so Exit is valid), or ctx's error when ctx ends first.
// In process-group mode that is the group and the tracked descendants; for a
// watched process it waits for that process alone.
func (p *Process) WaitTreeGone(ctx context.Context) error {
	if p.cg != nil && p.watch == nil {
		if err := p.cg.waitEmpty(ctx); err != nil {
			return err
		}
		select {
		case <-p.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return p.waitGroupGone(ctx)
}

// waitGroupGone waits for the main process to be reaped, then polls
// kill(-pgid, 0): the kernel offers no event for an empty process group. It
// runs only while stopping, with a short bounded interval.
func (p *Process) waitGroupGone(ctx context.Context) error {
	select {
	case <-p.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	const maxInterval = 20 * time.Millisecond
	interval := time.Millisecond
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for !p.treeGoneNow() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			interval = min(2*interval, maxInterval)
			timer.Reset(interval)
		}
	}
	return nil
}

// treeGoneNow reports, without waiting, whether a process-group tree is
// gone: the group and every tracked descendant.
// TreeGone reports whether nothing of the tree remains now: the main process
// reaped and, in cgroup mode, its cgroup empty; in process-group mode its group
// and tracked descendants gone. Once true it stays true: nothing is left that
// could start another member.
func (p *Process) TreeGone() bool {
	if p.cg != nil {
		if !p.reaped() {
			return false
		}
		pop, err := p.cg.populated()
		return err == nil && !pop
	}
	return p.treeGoneNow()
}

func (p *Process) treeGoneNow() bool {
	if !p.reaped() {
		return false
	}
	if p.watch != nil && !p.orphanGroup {
		return true
	}
	if !p.groupGone.Load() {
		if err := syscall.Kill(-p.pgid, 0); !errors.Is(err, syscall.ESRCH) {
			return false
		}
		p.groupGone.Store(true)
	}
	return p.descendantsGone()
}
