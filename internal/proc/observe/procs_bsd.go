//go:build darwin || freebsd

package observe

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Read reads pid's kinfo_proc; ok is false when the process is gone.
func Read(pid int) (Stat, bool) {
	st, err := Of(pid)
	return st, err == nil
}

// All returns the stat of every process.
func All() ([]Stat, error) { return list(allTable) }

// Group returns the processes in process group pgid, zombies included.
func Group(pgid int) ([]Stat, error) {
	if pgid <= 0 {
		return nil, ErrInvalidPid
	}
	sts, err := list("kern.proc.pgrp", pgid)
	// An empty group is an empty table, but say so for a system that
	// answers ESRCH.
	if errors.Is(err, unix.ESRCH) {
		return nil, nil
	}
	return sts, err
}

// Children lists pid's children. It is a snapshot: a child may be gone, or
// its pid reused, by the time it is looked at; callers check each child's
// parent. These systems keep no list of a process's children: every process
// is read.
func Children(pid int) []int {
	all, err := All()
	if err != nil {
		return nil
	}
	var out []int
	for _, st := range all {
		if st.Ppid == pid && st.Pid != pid {
			out = append(out, st.Pid)
		}
	}
	return out
}

// LeaderChildren is Children: a child belongs to the process here, not to
// the thread that forked it.
func LeaderChildren(pid int) []int { return Children(pid) }
