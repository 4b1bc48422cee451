package platform

import "golang.org/x/sys/unix"

// peerPID asks LOCAL_PEERPID: macOS's xucred has no pid.
func peerPID(fd int, _ *unix.Xucred) int {
	pid, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID)
	if err != nil || pid < 0 {
		return 0
	}
	return pid
}
