package proc

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/respawn-sh/respawn/internal/platform"
	"github.com/respawn-sh/respawn/internal/proc/observe"
	"golang.org/x/sys/unix"
)

// watchNative watches pid through a pidfd: Done closes when it exits, with
// no polling and no thread (the runtime's poller waits for the pidfd to
// become readable), and signals reach that process alone, never a process
// that reused its pid. Without pidfds (the POSIX path, or a kernel before
// 5.3) it fails with an error wrapping errors.ErrUnsupported.
func watchNative(name string, pid int) (*Process, error) {
	if !platform.Current().Pidfd {
		return nil, errors.ErrUnsupported
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil, fmt.Errorf("watch %s (pid %d): %w", name, pid, os.ErrProcessDone)
	}
	if errors.Is(err, unix.ENOSYS) {
		return nil, fmt.Errorf("watch %s (pid %d): pidfd_open: %w", name, pid, errors.ErrUnsupported)
	}
	if err != nil {
		return nil, fmt.Errorf("watch %s (pid %d): pidfd_open: %w", name, pid, err)
	}
	// Non-blocking, so that os.NewFile hands the fd to the runtime's poller.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch %s (pid %d): %w", name, pid, err)
	}
	f := os.NewFile(uintptr(fd), "pidfd:"+strconv.Itoa(pid))
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("watch %s (pid %d): %w", name, pid, err)
	}
	p := newWatched(name, pid, &pidWatch{pid: pid, f: f, rc: rc})
	go p.awaitWatchedExit()
	return p, nil
}

// awaitWatchedExit parks until the pidfd is readable, which it becomes when
// the process exits. An error from the poller (none is expected: pidfds are
// pollable since they exist) ends the watch as if the process had exited,
// rather than leaving a caller waiting forever. Read asks PidfdExited before
// its first wait, which covers an exit before the watch began.
func (p *Process) awaitWatchedExit() {
	_ = p.watch.rc.Read(func(fd uintptr) bool { return observe.PidfdExited(int(fd)) })
	p.watchedExited()
}

// signalPidfd sends sig through the pidfd; once the process exited it
// returns os.ErrProcessDone. w.mu is held.
func (w *pidWatch) signalPidfd(sig syscall.Signal) error {
	var sigErr error
	err := w.rc.Control(func(fd uintptr) {
		sigErr = unix.PidfdSendSignal(int(fd), sig, nil, 0)
	})
	if err != nil {
		return err
	}
	if errors.Is(sigErr, unix.ESRCH) {
		return os.ErrProcessDone
	}
	return sigErr
}
