package proc

import "golang.org/x/sys/unix"

// pipeCloexec makes a pipe whose both ends are close-on-exec from the start.
func pipeCloexec(fds *[2]int) error { return unix.Pipe2(fds[:], unix.O_CLOEXEC) }
