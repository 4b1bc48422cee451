//go:build !linux

package server

import (
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// peerOf asks the kernel (LOCAL_PEERCRED, on macOS and FreeBSD) who
// connected c. It gives the effective uid and groups at connect time, not
// the pid, so audit records of these systems carry no caller pid.
func peerOf(c net.Conn) (peer, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return peer{}, fmt.Errorf("peer credentials: %T is not a socket", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Xucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	}); err != nil {
		return peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	if credErr != nil {
		return peer{}, fmt.Errorf("peer credentials (LOCAL_PEERCRED): %w", credErr)
	}
	n := min(max(int(cred.Ngroups), 0), len(cred.Groups))
	p := peer{uid: int(cred.Uid), gid: -1}
	for i, g := range cred.Groups[:n] {
		if i == 0 {
			p.gid = int(g) // the effective gid comes first
		}
		p.groups = append(p.groups, int(g))
	}
	return p, nil
}
