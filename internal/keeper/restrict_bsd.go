//go:build darwin || freebsd

package keeper

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// restrictSocket makes the socket file at path 0600 without following a
// symlink put in its place (fchmodat with AT_SYMLINK_NOFOLLOW, which the BSDs
// honour), and returns what it is.
func restrictSocket(path string) (os.FileInfo, error) {
	if err := unix.Fchmodat(unix.AT_FDCWD, path, 0o600, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Type() != os.ModeSocket {
		return nil, fmt.Errorf("%s is not a socket any more", path)
	}
	return fi, nil
}
