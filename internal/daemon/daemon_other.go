//go:build !linux

package daemon

import (
	"errors"
	"fmt"
	"io"

	"github.com/respawn-sh/respawn/internal/config"
)

// errNeedsLinux: the keeper rests on Linux facilities (SOCK_SEQPACKET with
// peer credentials, parent-death signals, child subreaper, pidfds).
var errNeedsLinux = fmt.Errorf("respawn up needs Linux: the keeper relies on its process and socket facilities: %w", errors.ErrUnsupported)

// Run reports that the supervisor cannot run on this system.
func Run(*config.Config, io.Writer) error { return errNeedsLinux }

// RunCore reports that the supervisor cannot run on this system.
func RunCore(*config.Config, io.Writer) error { return errNeedsLinux }

// Resume reports that the supervisor cannot run on this system.
func Resume(_ string, stderr io.Writer) int {
	fmt.Fprintln(stderr, "respawn:", errNeedsLinux)
	return 1
}
