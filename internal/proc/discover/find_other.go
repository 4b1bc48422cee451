//go:build !linux

package discover

import (
	"errors"
	"fmt"
	"regexp"
)

// FindByCmdline would scan /proc for matching command lines; without a Linux
// /proc it fails with an error wrapping errors.ErrUnsupported.
func FindByCmdline(re *regexp.Regexp) ([]int, error) {
	return nil, fmt.Errorf("find by command line: %w", errors.ErrUnsupported)
}
