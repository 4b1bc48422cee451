package server

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// peerOf asks the kernel (SO_PEERCRED) who connected c: the credentials
// are those of the peer at connect time and cannot be forged by it.
func peerOf(c net.Conn) (peer, error) {
	var cred *unix.Ucred
	if err := withSocketFD(c, func(fd int) (err error) {
		cred, err = unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
		return err
	}); err != nil {
		return peer{}, fmt.Errorf("peer credentials (SO_PEERCRED): %w", err)
	}
	return peer{uid: int(cred.Uid), gid: int(cred.Gid), pid: int(cred.Pid)}, nil
}
