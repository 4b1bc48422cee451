package proc

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// WatchPid watches pid, a process that is not our child (kind external):
// Done closes when it exits. Its exit status belongs to its parent, so Exit
// has Code -1 and Unknown set. Signal and KillTree reach that process alone;
// WaitTreeGone waits for its exit. Stdout and Stderr are nil and there is no
// cgroup. name appears in errors only.
//
// How it watches depends on the system: through a pidfd on Linux (unless the
// POSIX path was chosen), which also keeps signals from any process that
// reused the pid; through kqueue's EVFILT_PROC on macOS and FreeBSD;
// elsewhere, and on Linux's POSIX path, by polling (see watchPoll). Without a
// pidfd each signal is sent only after the start time read at the watch's
// start was found again.
//
// It fails with an error wrapping os.ErrProcessDone when pid does not exist
// and ErrInvalidPid when pid is not positive.
func WatchPid(name string, pid int) (*Process, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("watch %s (pid %d): %w", name, pid, ErrInvalidPid)
	}
	p, err := watchNative(name, pid)
	if errors.Is(err, errors.ErrUnsupported) {
		p, err = watchPoll(name, pid)
	}
	return p, err
}

// pidWatch is how a watched process is signalled and known to have exited.
type pidWatch struct {
	pid int
	// f and rc hold the pidfd (Linux); f is nil without one.
	f  *os.File
	rc syscall.RawConn
	// start is the process's start time when the watch began; startKnown
	// is false where the system does not say (then only kill(pid, 0) tells).
	start      uint64
	startKnown bool

	mu     sync.Mutex // orders signals before the close
	closed bool
}

// newWatched returns the Process for a watch that has begun.
func newWatched(name string, pid int, w *pidWatch) *Process {
	return &Process{name: name, pid: pid, pgid: pid, startedAt: time.Now(), done: make(chan struct{}), watch: w}
}

// watchedExited ends the watch once the process has exited.
func (p *Process) watchedExited() {
	p.exit = Exit{Code: -1, Unknown: true, At: time.Now()}
	p.watch.close()
	close(p.done)
}

// close releases the pidfd, if any; signals after it report
// os.ErrProcessDone.
func (w *pidWatch) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.f != nil {
		w.f.Close()
	}
}

// signal sends sig to the watched process; once it exited it returns
// os.ErrProcessDone.
func (w *pidWatch) signal(sig syscall.Signal) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return os.ErrProcessDone
	}
	if w.f != nil {
		return w.signalPidfd(sig)
	}
	return w.signalChecked(sig)
}

// signalWatched sends sig to the watched process alone: it has no tree of ours.
func (p *Process) signalWatched(sig syscall.Signal) error {
	if p.reaped() {
		return os.ErrProcessDone
	}
	err := p.watch.signal(sig)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrProcessDone):
		return os.ErrProcessDone
	default:
		return fmt.Errorf("signal %s (pid %d): %w", p.name, p.pid, err)
	}
}

// closedNow reports whether the watch was released.
func (w *pidWatch) closedNow() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}
