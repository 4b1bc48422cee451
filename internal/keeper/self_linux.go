package keeper

import (
	"os"
	"strconv"
)

// openSelfImage opens the running binary itself, even if its file was
// replaced or removed since it was started: the rollback runs it again.
func openSelfImage() (*os.File, error) { return os.Open("/proc/self/exe") }

// fdPath names an open fd so that exec can run the file it holds.
func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// fdName is the path an open fd was opened by, as the kernel knows it now.
func fdName(fd int) (string, error) { return os.Readlink(fdPath(fd)) }
