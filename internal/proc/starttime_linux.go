package proc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// StartTime returns when pid started, in clock ticks since boot (field 22 of
// /proc/PID/stat). With the pid it tells a process from a later one that
// reused its number, to the resolution of a tick. It fails with an error
// wrapping os.ErrProcessDone when pid does not exist and ErrInvalidPid when
// pid is not positive.
func StartTime(pid int) (uint64, error) {
	st, err := statOf(pid)
	if err != nil {
		return 0, fmt.Errorf("start time of pid %d: %w", pid, err)
	}
	return st.start, nil
}

// statOf reads /proc/PID/stat, telling a missing process (os.ErrProcessDone)
// from an unreadable or malformed file.
func statOf(pid int) (stat, error) {
	if pid <= 0 {
		return stat{}, ErrInvalidPid
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	// A process that ends while its file is read makes the read fail with ESRCH.
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return stat{}, os.ErrProcessDone
	}
	if err != nil {
		return stat{}, err
	}
	return parseStat(b)
}
