//go:build darwin || freebsd

package keeper

import (
	"errors"
	"fmt"
	"os"
	"strconv"
)

// openSelfImage opens the running binary by the path it was started from:
// neither macOS nor FreeBSD can open the image itself, so a binary replaced
// at that path before an upgrade is what a rollback runs.
func openSelfImage() (*os.File, error) {
	path, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return os.Open(path)
}

// fdPath names an open fd for exec: /dev/fd (fdescfs on FreeBSD).
func fdPath(fd int) string { return "/dev/fd/" + strconv.Itoa(fd) }

// fdName cannot ask the kernel for an fd's path here: the keeper's own log is
// then not reopened by SIGHUP (respawn rotates it itself under up -d).
func fdName(fd int) (string, error) {
	return "", fmt.Errorf("path of fd %d: %w", fd, errors.ErrUnsupported)
}
