//go:build !linux && !darwin && !freebsd

package discover

import (
	"errors"
	"fmt"
	"regexp"
)

// FindByCmdline needs a process table to scan (Linux's /proc, the kern.proc
// sysctls of macOS and FreeBSD); without one it fails with an error wrapping errors.ErrUnsupported.
func FindByCmdline(re *regexp.Regexp) ([]int, error) {
	return nil, fmt.Errorf("find by command line: %w", errors.ErrUnsupported)
}
