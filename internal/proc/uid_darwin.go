package proc

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// processUID returns the effective uid pid runs as.
func processUID(pid int) (int, error) {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return 0, fmt.Errorf("owner of pid %d: %w", pid, err)
	}
	if int(kp.Proc.P_pid) != pid {
		return 0, fmt.Errorf("owner of pid %d: no such process", pid)
	}
	return int(kp.Eproc.Ucred.Uid), nil
}
