//go:build !linux

package proc

import "syscall"

// pipeCloexec makes a pipe whose both ends are close-on-exec. Without pipe2
// (macOS), the fork lock keeps a concurrent fork from inheriting the ends
// before they are marked.
func pipeCloexec(fds *[2]int) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	if err := syscall.Pipe(fds[:]); err != nil {
		return err
	}
	syscall.CloseOnExec(fds[0])
	syscall.CloseOnExec(fds[1])
	return nil
}
