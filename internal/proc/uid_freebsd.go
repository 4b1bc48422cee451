package proc

import (
	"errors"
	"fmt"
)

// processUID is not needed on FreeBSD's own platform, where the keeper is the
// reaper and adopts its children; on the POSIX path there a forking
// service's daemon is refused.
func processUID(pid int) (int, error) {
	return 0, fmt.Errorf("owner of pid %d on FreeBSD without the reaper: %w", pid, errors.ErrUnsupported)
}
