//go:build unix && !linux

package cleanup

import "golang.org/x/sys/unix"

// pidfdsInForce: only Linux has pidfds.
func pidfdsInForce() bool { return false }

func pidfdOpen(int) (int, error) { return -1, unix.ENOSYS }

func pidfdSignal(int, unix.Signal) error { return unix.ENOSYS }

func pidfdExited(int) bool { return true }
