//go:build !linux && !darwin && !freebsd

package daemon

import (
	"errors"
	"fmt"
	"io"

	"github.com/respawn-sh/respawn/internal/config"
)

// errNeedsLinux: the keeper is built for Linux, macOS and FreeBSD only
var errNeedsLinux = fmt.Errorf("respawn up runs on Linux, macOS and FreeBSD: %w", errors.ErrUnsupported)

// Run reports that the supervisor cannot run on this system.
func Run(*config.Config, io.Writer) error { return errNeedsLinux }

// RunCore reports that the supervisor cannot run on this system.
func RunCore(*config.Config, io.Writer) error { return errNeedsLinux }

// Resume reports that the supervisor cannot run on this system.
func Resume(_ string, stderr io.Writer) int {
	fmt.Fprintln(stderr, "respawn:", errNeedsLinux)
	return 1
}
