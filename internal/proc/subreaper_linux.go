package proc

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/platform"
)

// becomeSubreaper makes orphaned descendants re-parent to us rather than to
// init, so the reaper collects double-forked daemons. The POSIX path leaves
// them to init: they are found by process group and the records file.
func becomeSubreaper() error {
	if !platform.Current().Subreaper {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become child subreaper: %w", err)
	}
	return nil
}
