//go:build darwin || freebsd

package client

import (
	"time"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// processAlive reports whether pid is a live process (a zombie has died)
// that is the lock's holder: its start time is start, when the lock file says
// it, else it started no later than locked, when the lock file named it. A
// process that started afterwards reuses the pid of a keeper that died.
func processAlive(pid int, start uint64, locked time.Time) bool {
	st, err := observe.Of(pid)
	if err != nil || st.State == 'Z' {
		return false
	}
	if start != 0 {
		return st.Start == start
	}
	// The boot time is whole seconds on some systems, hence the slack.
	if start, err := observe.StartedAt(st); err == nil && start.After(locked.Add(2*time.Second)) {
		return false
	}
	return true
}
