//go:build !linux && !darwin && !freebsd

package platform

import (
	"errors"
	"fmt"
)

// PeerCred fails with an error wrapping errors.ErrUnsupported: respawn reads
// peer credentials on Linux, macOS and FreeBSD only.
func PeerCred(fd int) (Cred, error) {
	return Cred{}, fmt.Errorf("peer credentials: %w", errors.ErrUnsupported)
}
