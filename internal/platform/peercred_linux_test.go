package platform

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPeerCred(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	c, err := PeerCred(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	// The peer is this very process.
	if c.UID != uint32(os.Geteuid()) || c.GID != uint32(os.Getegid()) || c.PID != os.Getpid() {
		t.Fatalf("PeerCred = %+v, want uid %d gid %d pid %d", c, os.Geteuid(), os.Getegid(), os.Getpid())
	}
	// Not a socket: an error, no credentials.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if c, err := PeerCred(int(r.Fd())); !errors.Is(err, unix.ENOTSOCK) {
		t.Fatalf("PeerCred(pipe) = %+v, %v; want ENOTSOCK", c, err)
	}
}
