//go:build !linux && !freebsd

package proc

import (
	"context"
	"syscall"
)

// Outside Linux and FreeBSD there are no /proc children links to follow and
// no reaper to ask: process-group
// containment holds the group alone, and the functions below find nothing.

func (p *Process) scanTree()                          {}
func (p *Process) attributeAtExitLocked() []trackNote { return nil }
func (p *Process) descendantsGone() bool              { return true }

func (p *Process) signalDescendants(syscall.Signal, bool) (bool, error) { return false, nil }

// Track finds nothing outside Linux.
func (m *Manager) Track() {}

// KillOrphans has nothing to kill outside Linux, where nothing is tracked.
func (m *Manager) KillOrphans(context.Context) error { return nil }
