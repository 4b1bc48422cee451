package cleanup

import (
	"github.com/respawn-sh/respawn/internal/platform"
	"github.com/respawn-sh/respawn/internal/proc/observe"
	"golang.org/x/sys/unix"
)

// pidfdsInForce: Linux pins processes with pidfds unless the POSIX path was
// chosen, which must work without them.
func pidfdsInForce() bool { return platform.Current().Pidfd }

// pidfdOpen is a variable so that tests can see whether pidfds are opened.
var pidfdOpen = func(pid int) (int, error) { return unix.PidfdOpen(pid, 0) }

func pidfdSignal(fd int, sig unix.Signal) error { return unix.PidfdSendSignal(fd, sig, nil, 0) }

func pidfdExited(fd int) bool { return observe.PidfdExited(fd) }
