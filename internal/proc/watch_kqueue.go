//go:build darwin || freebsd

package proc

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// watchNative watches pid through a kqueue EVFILT_PROC filter, which fires
// NOTE_EXIT when the process exits. A goroutine waits in kevent for it, which
// holds a thread per watched process: there are few of them. When no kqueue
// can be had (out of descriptors) it fails with an error wrapping
// errors.ErrUnsupported, and WatchPid polls instead.
func watchNative(name string, pid int) (*Process, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, fmt.Errorf("watch %s (pid %d): kqueue: %w: %w", name, pid, err, errors.ErrUnsupported)
	}
	unix.CloseOnExec(kq)
	var ev unix.Kevent_t
	unix.SetKevent(&ev, pid, unix.EVFILT_PROC, unix.EV_ADD|unix.EV_ONESHOT)
	ev.Fflags = unix.NOTE_EXIT
	if _, err := unix.Kevent(kq, []unix.Kevent_t{ev}, nil, nil); err != nil {
		unix.Close(kq)
		if errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("watch %s (pid %d): %w", name, pid, os.ErrProcessDone)
		}
		return nil, fmt.Errorf("watch %s (pid %d): kevent: %w: %w", name, pid, err, errors.ErrUnsupported)
	}
	// Read after the filter was attached: if the start time is the
	// process's, so is the filter.
	w, err := checkedWatch(name, pid)
	if err != nil {
		unix.Close(kq)
		return nil, err
	}
	p := newWatched(name, pid, w)
	go func() {
		awaitKevent(kq)
		unix.Close(kq)
		p.watchedExited()
	}()
	return p, nil
}

// awaitKevent waits for the one event registered on kq. An error other than
// an interruption ends the wait as if the process had exited, rather than
// leaving a caller waiting forever.
func awaitKevent(kq int) {
	events := make([]unix.Kevent_t, 1)
	for {
		n, err := unix.Kevent(kq, nil, events, nil)
		if errors.Is(err, unix.EINTR) || (err == nil && n == 0) {
			continue
		}
		return
	}
}

// signalPidfd is never called: there are no pidfds here.
func (w *pidWatch) signalPidfd(syscall.Signal) error { return errors.ErrUnsupported }
