package platform

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// peerPID reads cr_pid, which FreeBSD 13 and later put in the union that
// ends struct xucred (x/sys/unix names it not: it predates the pid). It is
// the union's first field, a pid_t.
func peerPID(_ int, x *unix.Xucred) int {
	const off = unsafe.Sizeof(unix.Xucred{}) - unsafe.Sizeof(uintptr(0))
	pid := *(*int32)(unsafe.Add(unsafe.Pointer(x), off))
	return int(max(pid, 0))
}
