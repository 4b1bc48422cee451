//go:build darwin || freebsd

package keeper

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// restrictSocket makes the socket file at path 0600 without following a
// symlink put in its place, and returns what it is.
func restrictSocket(path string) (os.FileInfo, error) { return setSocketFile(path, 0o600, -1, -1) }

// setSocketFile gives the socket file at path mode (0: left as it is) and
// owner uid and gid (-1: left as they are), without following a symlink
// (the *at calls with AT_SYMLINK_NOFOLLOW, which the BSDs honour), checking
// before and after that it is a socket. Without Linux's O_PATH the check and
// the change are two calls: put the socket in a folder no other user can
// write.
func setSocketFile(path string, mode os.FileMode, uid, gid int) (os.FileInfo, error) {
	isSocket := func() (os.FileInfo, error) {
		fi, err := os.Lstat(path)
		if err != nil {
			return nil, err
		}
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("%s is not a socket any more", path)
		}
		return fi, nil
	}
	if _, err := isSocket(); err != nil {
		return nil, err
	}
	if mode != 0 {
		if err := unix.Fchmodat(unix.AT_FDCWD, path, uint32(mode.Perm()), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, err
		}
	}
	if uid != -1 || gid != -1 {
		if err := unix.Fchownat(unix.AT_FDCWD, path, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, fmt.Errorf("chown %s: %w", path, err)
		}
	}
	return isSocket()
}
