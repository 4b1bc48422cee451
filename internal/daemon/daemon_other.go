//go:build !linux && !darwin && !freebsd

package daemon

import (
	"errors"
	"fmt"
	"io"

	"github.com/respawn-sh/respawn/internal/config"
)

// errUnsupportedOS: the keeper is built for Linux, macOS and FreeBSD only
var errUnsupportedOS = fmt.Errorf("respawn up runs on Linux, macOS and FreeBSD: %w", errors.ErrUnsupported)

// Run reports that the supervisor cannot run on this system.
func Run(*config.Config, io.Writer) error { return errUnsupportedOS }

// RunCore reports that the supervisor cannot run on this system.
func RunCore(*config.Config, io.Writer) error { return errUnsupportedOS }

// Resume reports that the supervisor cannot run on this system.
func Resume(_ string, stderr io.Writer) int {
	fmt.Fprintln(stderr, "respawn:", errUnsupportedOS)
	return 1
}
