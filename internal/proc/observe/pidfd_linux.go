package observe

import (
	"errors"

	"golang.org/x/sys/unix"
)

// PidfdExited asks, without waiting, whether the process that pidfd fd
// refers to has exited (a pidfd polls readable once it has).
func PidfdExited(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil && n > 0
	}
}
