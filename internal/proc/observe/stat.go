package observe

import (
	"bytes"
	"fmt"
	"os"
)

// Stat is what respawn reads of a process: on Linux from /proc/PID/stat, on
// macOS and FreeBSD from sysctl kern.proc. A field the system does not give
// is zero (see each system's Of).
type Stat struct {
	Pid   int
	State byte // R, S, D, T, Z, ... as Linux's /proc spells them
	Ppid  int
	Pgrp  int
	// Session is the process's session id.
	Session int
	// Ticks are the process's own CPU time plus that of the children it
	// has waited for, so that short-lived descendants count too, in units of
	// 1/ClockTicks s.
	Ticks uint64
	RSS   uint64 // bytes
	// Start is when the process started, in a unit of the system's own
	// (Linux: clock ticks since boot; macOS: microseconds since the epoch;
	// FreeBSD: microseconds since boot). It is the same in every read of one
	// process, so with the pid it tells a process from a later one that
	// reused its number; only equality and order mean anything.
	Start uint64
	// Comm is the command name the kernel keeps (at most 15 bytes on
	// Linux, 16 on macOS, 19 on FreeBSD).
	Comm string
}

// ClockTicks is the unit of Stat's CPU times: USER_HZ on Linux, 100 on
// every architecture Go supports; the other systems convert to it.
const ClockTicks = 100

// PageSize converts counts of memory pages to bytes.
var PageSize = uint64(os.Getpagesize())

// StartTime returns pid's Stat.Start: with the pid it tells a process from a
// later one that reused its number (on Linux to the resolution of a clock
// tick, elsewhere of a microsecond). It fails with an error wrapping
// os.ErrProcessDone when pid does not exist and ErrInvalidPid when pid is not
// positive.
func StartTime(pid int) (uint64, error) {
	st, err := Of(pid)
	if err != nil {
		return 0, fmt.Errorf("start time of pid %d: %w", pid, err)
	}
	return st.Start, nil
}

// cString reads a NUL-terminated name from a fixed-size kernel field.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}
