package observe

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Of reads pid's kinfo_proc (sysctl kern.proc.pid), telling a missing
// process (os.ErrProcessDone) from a failed read.
func Of(pid int) (Stat, error) {
	if pid <= 0 {
		return Stat{}, ErrInvalidPid
	}
	sts, err := list("kern.proc.pid", pid)
	if errors.Is(err, unix.ESRCH) || (err == nil && len(sts) == 0) {
		return Stat{}, os.ErrProcessDone
	}
	if err != nil {
		return Stat{}, fmt.Errorf("stat of pid %d: %w", pid, err)
	}
	return sts[0], nil
}

// list reads a kern.proc table ("kern.proc.proc": every process, one entry
// each; "kern.proc.pgrp" and a group; "kern.proc.pid" and a pid).
//
// FreeBSD reports a start time as boottime plus the uptime at fork, and
// moves boottime when the clock is stepped: Start is the difference, read
// between two equal boottimes, so that it does not move with the clock.
func list(name string, args ...int) ([]Stat, error) {
	for range 3 {
		before, err := unix.SysctlTimeval("kern.boottime")
		if err != nil {
			return nil, fmt.Errorf("sysctl kern.boottime: %w", err)
		}
		b, err := unix.SysctlRaw(name, args...)
		if err != nil {
			return nil, fmt.Errorf("sysctl %s: %w", name, err)
		}
		after, err := unix.SysctlTimeval("kern.boottime")
		if err != nil {
			return nil, fmt.Errorf("sysctl kern.boottime: %w", err)
		}
		if *before == *after {
			return decodeKinfos(b, after.Nano()/1e3)
		}
	}
	return nil, fmt.Errorf("sysctl %s: the clock keeps being stepped", name)
}

// StartedAt turns a Stat's Start into the time the process started, by the
// boot time as the clock now reads it.
func StartedAt(st Stat) (time.Time, error) {
	boot, err := unix.SysctlTimeval("kern.boottime")
	if err != nil {
		return time.Time{}, fmt.Errorf("sysctl kern.boottime: %w", err)
	}
	return time.Unix(boot.Unix()).Add(time.Duration(st.Start) * time.Microsecond), nil
}

// allTable is the kern.proc sysctl that lists every process once (not each
// thread, as kern.proc.all does).
const allTable = "kern.proc.proc"
