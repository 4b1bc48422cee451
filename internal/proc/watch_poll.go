//go:build unix

package proc

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/proc/observe"
	"golang.org/x/sys/unix"
)

// pollInterval is how often watchPoll looks whether a watched process still
// exists. No Unix tells a process that another one, not its child, ended
// without a pidfd or kqueue: the poll is the last resort, and a watched
// process's exit is seen up to this late.
const pollInterval = 250 * time.Millisecond

// watchPoll watches pid by asking every pollInterval whether it still exists
// (kill(pid, 0)) with the start time it had when the watch began.
func watchPoll(name string, pid int) (*Process, error) {
	w, err := checkedWatch(name, pid)
	if err != nil {
		return nil, err
	}
	p := newWatched(name, pid, w)
	go p.pollWatchedExit()
	return p, nil
}

// pollWatchedExit ends the watch once the process is no longer there.
func (p *Process) pollWatchedExit() {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for p.watch.aliveLocked() {
		<-tick.C
	}
	p.watchedExited()
}

// aliveLocked is alive under w.mu, so that a poll never overlaps a signal.
func (w *pidWatch) aliveLocked() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.alive()
}

// checkedWatch reads pid's start time, which tells it from a process that
// later takes its pid.
func checkedWatch(name string, pid int) (*pidWatch, error) {
	w := &pidWatch{pid: pid}
	st, err := observe.Of(pid)
	switch {
	case err == nil && st.State != 'Z':
		w.start, w.startKnown = st.Start, true
	case err == nil, errors.Is(err, os.ErrProcessDone):
		return nil, fmt.Errorf("watch %s (pid %d): %w", name, pid, os.ErrProcessDone)
	case errors.Is(err, errors.ErrUnsupported):
		// No start times here: kill(pid, 0) alone.
		if !w.alive() {
			return nil, fmt.Errorf("watch %s (pid %d): %w", name, pid, os.ErrProcessDone)
		}
	default:
		return nil, fmt.Errorf("watch %s (pid %d): %w", name, pid, err)
	}
	return w, nil
}

// alive reports whether the watched process still exists and has not
// exited (a zombie has). A pid held by a process with another start time
// is not it. When the start time cannot be read for another reason, the
// process counts as alive: the next poll asks again.
func (w *pidWatch) alive() bool {
	if errors.Is(unix.Kill(w.pid, 0), unix.ESRCH) {
		return false
	}
	if !w.startKnown {
		return true
	}
	st, err := observe.Of(w.pid)
	if errors.Is(err, os.ErrProcessDone) {
		return false
	}
	return err != nil || (st.Start == w.start && st.State != 'Z')
}

// signalChecked sends sig to the pid after finding the watched process
// there, with its start time; otherwise it returns os.ErrProcessDone. The
// process could still end and its pid be taken between the check and the
// signal: only a pidfd closes that window. w.mu is held.
func (w *pidWatch) signalChecked(sig syscall.Signal) error {
	if !w.alive() {
		return os.ErrProcessDone
	}
	err := unix.Kill(w.pid, sig)
	if errors.Is(err, unix.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}
