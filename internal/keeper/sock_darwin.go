package keeper

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// macOS has neither SOCK_CLOEXEC, accept4 nor MSG_CMSG_CLOEXEC: fds are
// marked close-on-exec right after they are made, under the fork lock so that
// no fork in between hands them to a child; SIGPIPE is refused per socket.
const (
	sendFlags = 0
	recvFlags = 0
)

func newSocket(typ int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := unix.Socket(unix.AF_UNIX, typ, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	return fd, err
}

func acceptConn(fd int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nfd, _, err := unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	return nfd, err
}

func noSigpipe(fd int) { _ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1) }

// markCloexec marks a received fd. A fork between the receive and this call
// could inherit it; the keeper's forks hold the fork lock, which the receive
// does not, so this narrow window is macOS's alone.
func markCloexec(fd int) { unix.CloseOnExec(fd) }
