//go:build !linux

package discover

import (
	"errors"
)

// Descends needs Linux's /proc; elsewhere only root itself is known.
func Descends(pid, root int) bool { return pid > 0 && pid == root }

// CgroupOf fails: cgroups are Linux-only.
func CgroupOf(pid int) (string, error) { return "", errors.ErrUnsupported }
