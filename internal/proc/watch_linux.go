package proc

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/proc/observe"
	"golang.org/x/sys/unix"
)

// WatchPid watches pid, a process that is not our child (kind external),
// through a pidfd: Done closes when it exits, with no polling and no thread
// (the runtime's poller waits for the pidfd to become readable). Its exit
// status belongs to its parent, so Exit has Code -1 and Unknown set. Signal
// and KillTree reach that process alone, never a process that reused its pid;
// WaitTreeGone waits for its exit. Stdout and Stderr are nil and there is no
// cgroup. name appears in errors only.
//
// It fails with an error wrapping os.ErrProcessDone when pid does not exist
// and ErrInvalidPid when pid is not positive.
func WatchPid(name string, pid int) (*Process, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("watch %s (pid %d): %w", name, pid, ErrInvalidPid)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil, fmt.Errorf("watch %s (pid %d): %w", name, pid, os.ErrProcessDone)
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
	p := &Process{name: name, pid: pid, pgid: pid, startedAt: time.Now(), done: make(chan struct{}), watch: &pidWatch{f: f, rc: rc}}
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
	p.exit = Exit{Code: -1, Unknown: true, At: time.Now()}
	p.watch.close()
	close(p.done)
}

// signal sends sig through the pidfd; once the process exited it returns
// os.ErrProcessDone.
func (w *pidWatch) signal(sig syscall.Signal) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return os.ErrProcessDone
	}
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
