package health

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxNotifyMsg is the longest datagram read whole, as systemd's own limit; longer ones
// are dropped rather than parsed in part.
const maxNotifyMsg = 4096

// maxPassedFDs bounds the descriptors a sender may pass along (FDSTORE=1) that are
// received only to be closed; more than this the kernel discards itself.
const maxPassedFDs = 16

// ListenNotify creates the service's notify socket: a unixgram socket at path, mode
// 0600, that receives each sender's credentials. A path starting with "@" names an
// abstract socket, which has no file and no mode. A stale socket file at path, left by
// an earlier run, is replaced. belongs tells whether a sender pid is part of the
// service's current process tree, or why not (it may wait, until ctx ends: Close
// ends it); datagrams from others are dropped,
// counted and the latest kept with the reason (see Drops). One
// goroutine reads the socket as datagrams come, until Close: the kernel queues only a
// few datagrams per socket (net.unix.max_dgram_qlen) before senders block.
func ListenNotify(path string, belongs func(ctx context.Context, pid int) error) (*Notify, error) {
	if belongs == nil {
		return nil, fmt.Errorf("%w: notify socket %s: no process check", ErrInvalid, path)
	}
	if path == "" || path == "@" || len(path) >= len(unix.RawSockaddrUnix{}.Path) {
		return nil, fmt.Errorf("%w: notify socket path %q: empty or longer than %d bytes", ErrInvalid, path, len(unix.RawSockaddrUnix{}.Path)-1)
	}
	abstract := strings.HasPrefix(path, "@")
	if !abstract {
		if err := removeStaleSocket(path); err != nil {
			return nil, err
		}
	}
	lc := net.ListenConfig{Control: passCred}
	pc, err := lc.ListenPacket(context.Background(), "unixgram", path)
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	conn := pc.(*net.UnixConn)
	file := path
	if abstract {
		file = ""
	} else if err := os.Chmod(path, 0o600); err != nil {
		conn.Close()
		return nil, removeSocket(path, fmt.Errorf("notify socket: %w", err))
	}
	n := newNotify(conn, file, belongs)
	go n.read()
	return n, nil
}

// passCred turns SO_PASSCRED on before bind, so that no datagram arrives without the
// sender's pid.
func passCred(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("SO_PASSCRED: %w", serr)
	}
	return nil
}

// removeStaleSocket removes a socket file at path; anything else there is left, and
// bind then reports it.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("notify socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return nil
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("notify socket: %w", err)
	}
	return nil
}

// read receives datagrams until the socket is closed. It is the only reader, and it
// blocks in Go's poller, not on a thread.
func (n *Notify) read() {
	defer close(n.done)
	buf := make([]byte, maxNotifyMsg)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(maxPassedFDs*4))
	for {
		size, oobn, flags, _, err := n.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a datagram socket has no other lasting error; the next read may work
		}
		pid, ok := senderPID(oob[:oobn])
		switch {
		case !ok:
			n.drop(0, "no sender credentials")
			continue
		case flags&unix.MSG_TRUNC != 0:
			n.drop(pid, fmt.Sprintf("longer than %d bytes", maxNotifyMsg))
			continue
		}
		n.handle(pid, buf[:size])
	}
}

// senderPID returns the pid in the credentials of a datagram's control data and closes
// any descriptors that came with it, which are never kept.
func senderPID(oob []byte) (pid int, ok bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Level != unix.SOL_SOCKET {
			continue
		}
		switch m.Header.Type {
		case unix.SCM_CREDENTIALS:
			if cred, err := unix.ParseUnixCredentials(m); err == nil {
				pid, ok = int(cred.Pid), true
			}
		case unix.SCM_RIGHTS:
			if fds, err := unix.ParseUnixRights(m); err == nil {
				for _, fd := range fds {
					unix.Close(fd)
				}
			}
		}
	}
	return pid, ok
}
