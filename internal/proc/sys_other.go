//go:build !linux

package proc

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

func defaultSelf() (string, error) { return os.Executable() }

// sysProcAttr has no parent-death signal and no cgroup outside Linux.
func sysProcAttr(c creds, _ *cgroupDir, _ syscall.Signal) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if c.set {
		attr.Credential = &syscall.Credential{Uid: c.uid, Gid: c.gid, Groups: c.groups}
	}
	return attr
}

// afterCredsChange gives up if the supervisor died before the trampoline
// could exec: there is no parent-death signal to restore.
func afterCredsChange(ppid int, _ bool) error {
	if os.Getppid() != ppid {
		os.Exit(trampolineExit)
	}
	return nil
}

// maxMarkedFD bounds the walk below: without close_range there is no cheap way
// to find the open fds, and the soft limit may be huge.
const maxMarkedFD = 1 << 16

// MarkInheritedCloexec marks every fd >= 3 (up to the nofile soft limit, at
// most 65536) close-on-exec, so fds the supervisor inherited never leak into
// services. Call it once at start.
func MarkInheritedCloexec() error {
	limit := maxMarkedFD
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil && uint64(rl.Cur) < uint64(limit) { // Cur is int64 on the BSDs
		limit = int(rl.Cur)
	}
	for fd := 3; fd < limit; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			return fmt.Errorf("mark fd %d close-on-exec: %w", fd, err)
		}
	}
	return nil
}
