package keeper

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// restrictSocket makes the socket file at path 0600 without following a
// symlink put in its place, and returns what it is.
func restrictSocket(path string) (os.FileInfo, error) { return setSocketFile(path, 0o600, -1, -1) }

// setSocketFile gives the socket file at path mode (0: left as it is) and
// owner uid and gid (-1: left as they are). The file is opened without
// following a symlink and checked to be a socket, and both changes act on
// that very inode: a file swapped in after the bind — a symlink or a hard
// link to something else, in a folder another user can write — is refused,
// never changed.
func setSocketFile(path string, mode os.FileMode, uid, gid int) (os.FileInfo, error) {
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
	if mode != 0 {
		if err := os.Chmod("/proc/self/fd/"+strconv.Itoa(fd), mode); err != nil {
			return nil, err
		}
	}
	if uid != -1 || gid != -1 {
		if err := unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH); err != nil {
			return nil, fmt.Errorf("chown %s: %w", path, err)
		}
	}
	return fi, nil
}
