//go:build linux || freebsd

package keeper

import "golang.org/x/sys/unix"

// Linux and FreeBSD set close-on-exec and refuse SIGPIPE per call.
const (
	sendFlags = unix.MSG_NOSIGNAL
	recvFlags = unix.MSG_CMSG_CLOEXEC
)

// newSocket makes a close-on-exec Unix socket of type typ.
func newSocket(typ int) (int, error) { return unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0) }

// acceptConn accepts a connection, close-on-exec.
func acceptConn(fd int) (int, error) {
	nfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
	return nfd, err
}

// noSigpipe has nothing to do: sendFlags holds MSG_NOSIGNAL.
func noSigpipe(int) {}

// markCloexec has nothing to do: recvFlags holds MSG_CMSG_CLOEXEC.
func markCloexec(int) {}
