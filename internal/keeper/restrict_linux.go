package keeper

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// restrictSocket makes the socket file at path 0600 without following a
// symlink put in its place, and returns what it is.
func restrictSocket(path string) (os.FileInfo, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Mode().Type() != os.ModeSocket {
		return nil, fmt.Errorf("%s is not a socket any more", path)
	}
	// An O_PATH fd cannot be fchmod'ed; its /proc link names the very inode.
	if err := os.Chmod("/proc/self/fd/"+strconv.Itoa(fd), 0o600); err != nil {
		return nil, err
	}
	return fi, nil
}
