//go:build linux || darwin || freebsd

package keeper

import "github.com/respawn-sh/respawn/internal/platform"

// peerCred returns the uid and pid of the process at the other end of a Unix
// socket, as the kernel recorded them at connect (pid 0 where it cannot say).
func peerCred(fd int) (uid, pid int, err error) {
	c, err := platform.PeerCred(fd)
	if err != nil {
		return 0, 0, err
	}
	return int(c.UID), c.PID, nil
}
