//go:build !linux

package server

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// peerOf asks the kernel (LOCAL_PEERCRED, on macOS and FreeBSD) who
// connected c. It gives the effective uid and groups at connect time, not
// the pid, so audit records of these systems carry no caller pid.
func peerOf(c net.Conn) (peer, error) {
	var cred *unix.Xucred
	if err := withSocketFD(c, func(fd int) (err error) {
		cred, err = unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		return err
	}); err != nil {
		return peer{}, fmt.Errorf("peer credentials (LOCAL_PEERCRED): %w", err)
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
