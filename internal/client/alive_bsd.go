//go:build darwin || freebsd

package client

import (
	"time"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// processAlive reports whether pid is a live process (a zombie has died)
// that started no later than locked, when the lock file named it: a process
// that started afterwards reuses the pid of a keeper that died.
func processAlive(pid int, locked time.Time) bool {
	st, err := observe.Of(pid)
	if err != nil || st.State == 'Z' {
		return false
	}
	// The boot time is whole seconds on some systems, hence the slack.
	if start, err := observe.StartedAt(st); err == nil && start.After(locked.Add(2*time.Second)) {
		return false
	}
	return true
}
