//go:build !linux

package discover

import (
	"errors"
	"fmt"
)

// CgroupOf fails with an error wrapping errors.ErrUnsupported: cgroups are
// Linux's.
func CgroupOf(pid int) (string, error) {
	return "", fmt.Errorf("cgroup of pid %d: %w", pid, errors.ErrUnsupported)
}
