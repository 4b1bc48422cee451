//go:build !linux

package proc

import (
	"errors"
	"fmt"
	"syscall"
)

// WatchPid would watch a process that is not our child through a pidfd,
// which only Linux has; it fails here with an error wrapping
// errors.ErrUnsupported.
func WatchPid(name string, pid int) (*Process, error) {
	return nil, fmt.Errorf("watch %s (pid %d): %w", name, pid, errors.ErrUnsupported)
}

func (*pidWatch) signal(syscall.Signal) error { return errors.ErrUnsupported }
