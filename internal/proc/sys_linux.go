package proc

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/respawn-sh/respawn/internal/platform"
	"golang.org/x/sys/unix"
)

// defaultSelf re-executes the running image even if its file was replaced or
// deleted since (an upgrade in progress).
func defaultSelf() (string, error) { return "/proc/self/exe", nil }

func sysProcAttr(c creds, cg *cgroupDir, death syscall.Signal) *syscall.SysProcAttr {
	if death == 0 {
		death = syscall.SIGKILL
	}
	attr := &syscall.SysProcAttr{Setpgid: true}
	if platform.Current().Pdeathsig {
		// A seatbelt for when the supervisor dies without cleaning up; it only
		// holds because every fork comes from the one locked fork thread.
		attr.Pdeathsig = death
	}
	if c.set {
		attr.Credential = &syscall.Credential{Uid: c.uid, Gid: c.gid, Groups: c.groups}
	}
	if cg != nil {
		// clone3(CLONE_INTO_CGROUP): the child is born inside the cgroup, so
		// nothing it forks early can escape.
		attr.UseCgroupFD = true
		attr.CgroupFD = cg.fd
	}
	return attr
}

// afterCredsChange restores the parent-death signal (when death), which the
// kernel clears when a process changes its credentials, and gives up if the
// supervisor died before that.
func afterCredsChange(ppid int, death bool) error {
	if death {
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0); err != nil {
			return fmt.Errorf("set parent death signal: %w", err)
		}
	}
	if os.Getppid() != ppid {
		os.Exit(trampolineExit)
	}
	return nil
}

// MarkInheritedCloexec marks every fd >= 3 close-on-exec, so fds the supervisor
// inherited (from a shell, a terminal multiplexer, a CI runner) never leak into
// services. Call it once at start, before anything opens fds meant for children.
func MarkInheritedCloexec() error {
	err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("close_range: %w", err)
	}
	// Kernels before 5.11: walk the open fds instead.
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list open fds: %w", err)
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			return fmt.Errorf("mark fd %d close-on-exec: %w", fd, err)
		}
	}
	return nil
}
