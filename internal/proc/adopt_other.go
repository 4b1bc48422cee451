//go:build !linux && !darwin && !freebsd

package proc

import (
	"errors"
	"fmt"
)

// Adopt would take over the daemon a forking service's launcher left behind;
// it is built for Linux, macOS and FreeBSD only, so it fails here with
// an error wrapping errors.ErrUnsupported.
func (m *Manager) Adopt(name string, pid int) (*Process, error) {
	return nil, fmt.Errorf("adopt %s (pid %d): %w", name, pid, errors.ErrUnsupported)
}
