//go:build !linux

package client

import (
	"errors"
	"syscall"
)

// processAlive reports whether pid is a live process.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
