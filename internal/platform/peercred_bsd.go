//go:build darwin || freebsd

package platform

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// PeerCred returns the credentials of the peer of the Unix socket fd
// (LOCAL_PEERCRED): the effective uid and the groups, the effective gid
// first; the pid as peerPID finds it.
func PeerCred(fd int) (Cred, error) {
	x, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return Cred{}, fmt.Errorf("peer credentials (LOCAL_PEERCRED): %w", err)
	}
	n := min(max(int(x.Ngroups), 0), len(x.Groups))
	if n == 0 {
		return Cred{}, errors.New("peer credentials (LOCAL_PEERCRED): no group")
	}
	return Cred{UID: x.Uid, GID: x.Groups[0], PID: peerPID(fd, x), Groups: append([]uint32(nil), x.Groups[:n]...)}, nil
}
