package logs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// dupNonblocking duplicates r's descriptor (close-on-exec), closes r, and
// makes the duplicate non-blocking: the capture reads the copy alone.
func dupNonblocking(r *os.File) (int, error) {
	rc, err := r.SyscallConn()
	if err != nil {
		r.Close()
		return -1, fmt.Errorf("logs: attach: %w", err)
	}
	fd, dupErr := -1, error(nil)
	err = rc.Control(func(sysfd uintptr) {
		fd, dupErr = unix.FcntlInt(sysfd, unix.F_DUPFD_CLOEXEC, 0)
	})
	r.Close()
	if err == nil {
		err = dupErr
	}
	if err != nil {
		return -1, fmt.Errorf("logs: attach: duplicate descriptor: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("logs: attach: set non-blocking: %w", err)
	}
	return fd, nil
}
