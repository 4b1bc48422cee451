//go:build !linux

package proc

import (
	"errors"
	"fmt"
)

// StartTime would read a process's start time from /proc; without a Linux
// /proc it fails with an error wrapping errors.ErrUnsupported.
func StartTime(pid int) (uint64, error) {
	return 0, fmt.Errorf("start time of pid %d: %w", pid, errors.ErrUnsupported)
}
