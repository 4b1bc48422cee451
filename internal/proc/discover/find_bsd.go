//go:build darwin || freebsd

package discover

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// FindByCmdline returns the pids, ascending, of the processes whose command
// line (arguments joined by spaces) matches re. It skips the supervisor itself
// and its ancestors (whose command lines may well hold the pattern), kernel
// processes (empty command line), zombies, and the processes whose command
// line the system does not show us (macOS shows another user's to root only).
func FindByCmdline(re *regexp.Regexp) ([]int, error) {
	if re == nil {
		return nil, errors.New("find by command line: no pattern")
	}
	all, err := observe.All()
	if err != nil {
		return nil, fmt.Errorf("find by command line: %w", err)
	}
	return matching(re, all, cmdline), nil
}
