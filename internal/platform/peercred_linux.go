package platform

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// PeerCred returns the credentials of the peer of the Unix socket fd
// (SO_PEERCRED).
func PeerCred(fd int) (Cred, error) {
	u, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return Cred{}, fmt.Errorf("peer credentials (SO_PEERCRED): %w", err)
	}
	return Cred{UID: u.Uid, GID: u.Gid, PID: int(u.Pid)}, nil
}
