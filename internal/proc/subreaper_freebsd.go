package proc

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/platform"
)

// From FreeBSD's sys/procctl.h: procctl(P_PID, 0, PROC_REAP_ACQUIRE, NULL)
// makes the calling process the reaper of its descendants.
const (
	procctlPid      = 0 // P_PID
	procReapAcquire = 2
)

// becomeSubreaper makes orphaned descendants re-parent to us rather than to
// init, as Linux's child subreaper does.
func becomeSubreaper() error {
	if !platform.Current().Subreaper {
		return nil
	}
	_, _, errno := unix.Syscall6(unix.SYS_PROCCTL, procctlPid, 0, procReapAcquire, uintptr(unsafe.Pointer(nil)), 0, 0)
	if errno != 0 {
		return fmt.Errorf("become reaper (procctl PROC_REAP_ACQUIRE): %w", errno)
	}
	return nil
}
