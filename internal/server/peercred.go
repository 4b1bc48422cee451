package server

import (
	"fmt"
	"net"
	"syscall"

	"github.com/respawn-sh/respawn/internal/platform"
)

// peerOf asks the kernel who connected c: the credentials are those of the
// peer at connect time and cannot be forged by it. Where the system does not
// tell the pid, audit records carry none.
func peerOf(c net.Conn) (peer, error) {
	var cred platform.Cred
	if err := withSocketFD(c, func(fd int) (err error) {
		cred, err = platform.PeerCred(fd)
		return err
	}); err != nil {
		return peer{}, err
	}
	p := peer{uid: int(cred.UID), gid: int(cred.GID), pid: cred.PID}
	for _, g := range cred.Groups {
		p.groups = append(p.groups, int(g))
	}
	return p, nil
}

// withSocketFD runs fn on the file descriptor of c, which must be a socket.
func withSocketFD(c net.Conn, fn func(fd int) error) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return fmt.Errorf("%T is not a socket", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	if err := raw.Control(func(fd uintptr) { fnErr = fn(int(fd)) }); err != nil {
		return err
	}
	return fnErr
}
