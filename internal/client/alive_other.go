//go:build !linux && !darwin && !freebsd

package client

import (
	"errors"
	"syscall"
	"time"
)

// processAlive reports whether pid is a live process.
func processAlive(pid int, _ uint64, _ time.Time) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
