//go:build !linux && !darwin && !freebsd

package proc

import (
	"errors"
	"syscall"
)

// watchNative: this system has neither pidfds nor kqueue's EVFILT_PROC
// here, so WatchPid polls.
func watchNative(string, int) (*Process, error) { return nil, errors.ErrUnsupported }

// signalPidfd is never called: there are no pidfds here.
func (w *pidWatch) signalPidfd(syscall.Signal) error { return errors.ErrUnsupported }
