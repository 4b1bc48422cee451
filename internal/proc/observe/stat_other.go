//go:build !linux && !darwin && !freebsd

package observe

import (
	"errors"
	"fmt"
)

// Of needs Linux's /proc or a BSD kern.proc sysctl: elsewhere it fails with
// an error wrapping errors.ErrUnsupported.
func Of(pid int) (Stat, error) {
	return Stat{}, fmt.Errorf("stat of pid %d: %w", pid, errors.ErrUnsupported)
}

// Read finds nothing where Of is unsupported.
func Read(pid int) (Stat, bool) { return Stat{}, false }

// All fails with an error wrapping errors.ErrUnsupported.
func All() ([]Stat, error) { return nil, fmt.Errorf("list processes: %w", errors.ErrUnsupported) }

// Group fails with an error wrapping errors.ErrUnsupported.
func Group(pgid int) ([]Stat, error) {
	return nil, fmt.Errorf("list process group %d: %w", pgid, errors.ErrUnsupported)
}

// Children finds none where Of is unsupported.
func Children(pid int) []int { return nil }

// LeaderChildren finds none where Of is unsupported.
func LeaderChildren(pid int) []int { return nil }
