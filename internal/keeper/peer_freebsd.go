package keeper

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// peerCred returns the uid and pid of the process at the other end of a Unix
// socket. FreeBSD (13 and later) puts the pid in struct xucred's last field,
// a union x/sys declares as a pointer.
func peerCred(fd int) (uid, pid int, err error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return 0, 0, err
	}
	last := unsafe.Add(unsafe.Pointer(cred), unsafe.Sizeof(*cred)-unsafe.Sizeof(uintptr(0)))
	return int(cred.Uid), int(*(*int32)(last)), nil
}
