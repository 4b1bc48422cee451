//go:build !linux

package observe

import (
	"errors"
	"fmt"
)

// Stat is what respawn reads of a process in Linux's /proc/PID/stat.
type Stat struct {
	State               byte
	Ppid, Pgrp, Session int
	Ticks, RSS, Start   uint64
}

// ClockTicks is the unit of Stat's CPU times.
const ClockTicks = 100

// Read needs Linux's /proc: elsewhere it finds nothing.
func Read(pid int) (Stat, bool) { return Stat{}, false }

// Of needs Linux's /proc: elsewhere it fails with an error wrapping
// errors.ErrUnsupported.
func Of(pid int) (Stat, error) {
	return Stat{}, fmt.Errorf("stat of pid %d: %w", pid, errors.ErrUnsupported)
}

// StartTime would read a process's start time from /proc; without a Linux
// /proc it fails with an error wrapping errors.ErrUnsupported.
func StartTime(pid int) (uint64, error) {
	return 0, fmt.Errorf("start time of pid %d: %w", pid, errors.ErrUnsupported)
}

// Children needs Linux's /proc: elsewhere it finds none.
func Children(pid int) []int { return nil }

// LeaderChildren needs Linux's /proc: elsewhere it finds none.
func LeaderChildren(pid int) []int { return nil }
