//go:build linux || darwin || freebsd

package keeper

import (
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseListenAddr(t *testing.T) {
	good := map[string]int{
		"tcp://127.0.0.1:8080": unix.AF_INET,
		"tcp://[::1]:8080":     unix.AF_INET6,
		"tcp://:8080":          unix.AF_INET6,
		"unix:///run/app.sock": unix.AF_UNIX,
	}
	for addr, want := range good {
		got, _, err := parseListenAddr(addr)
		if err != nil || got != want {
			t.Errorf("%s: domain %d, %v; want %d", addr, got, err, want)
		}
	}
	for _, addr := range []string{"tcp://localhost:80", "tcp://1.2.3.4", "tcp://:0", "tcp://:70000", "udp://:53",
		"unix://rel.sock", "unix:///" + strings.Repeat("x", 120), "127.0.0.1:80", "tcp://[fe80::1%eth0]:80"} {
		if _, _, err := parseListenAddr(addr); err == nil {
			t.Errorf("%s: accepted", addr)
		}
	}
}

// A socket is opened once: asking again keeps it (applying the settings),
// it stays blocking and close-on-exec, and closing removes a Unix socket's file.
func TestKeeperListeners(t *testing.T) {
	k := &Keeper{log: slog.New(slog.DiscardHandler), listeners: map[string]*heldListener{}}
	dir := t.TempDir()
	sock := filepath.Join(dir, "a.sock")
	specs := []ListenSpec{
		{Service: "web", Addr: "tcp://127.0.0.1:0", Backlog: 16},
		{Service: "web", Addr: "unix://" + sock, Backlog: 16, Mode: 0o660},
	}
	// Port 0 is refused by the parser; bind a free port instead.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	specs[0].Addr = "tcp://" + l.Addr().String()
	l.Close()
	for _, s := range specs {
		if err := k.openListener(s); err != nil {
			t.Fatal(err)
		}
	}
	held := k.listeners[listenKey("web", specs[0].Addr)]
	fd := held.f.Fd()
	specs[0].Backlog = 32
	if err := k.openListener(specs[0]); err != nil {
		t.Fatal(err)
	}
	if k.listeners[listenKey("web", specs[0].Addr)].f.Fd() != fd {
		t.Fatal("reopened a socket whose address stayed")
	}
	flags, _ := unix.FcntlInt(fd, unix.F_GETFL, 0)
	if flags&unix.O_NONBLOCK != 0 {
		t.Error("listener is non-blocking")
	}
	fdflags, _ := unix.FcntlInt(fd, unix.F_GETFD, 0)
	if fdflags&unix.FD_CLOEXEC == 0 {
		t.Error("listener is not close-on-exec")
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(specs[0].Addr, "tcp://"))
	if err != nil {
		t.Fatalf("connect while nobody accepts: %v", err)
	}
	c.Close()
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket file: %v %v", fi, err)
	}
	// The same address is in use: a second service cannot take it.
	if err := k.openListener(ListenSpec{Service: "other", Addr: specs[0].Addr, Backlog: 1}); err == nil {
		t.Error("a second socket bound a held address")
	}
	if got := len(k.listenerTableLocked()); got != 2 {
		t.Errorf("table has %d", got)
	}
	k.closeListener("web", specs[1].Addr)
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket file left: %v", err)
	}
	k.closeListeners()
}
