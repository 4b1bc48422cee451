package proc

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// processUID returns the user pid runs as: the owner of its /proc entry,
// which the kernel sets to the process's effective uid.
func processUID(pid int) (int, error) {
	fi, err := os.Stat("/proc/" + strconv.Itoa(pid))
	if err != nil {
		return 0, fmt.Errorf("owner of pid %d: %w", pid, err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid), nil
}
