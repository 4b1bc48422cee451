//go:build linux

package proc

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
)

// A process given sockets finds them as systemd's socket activation passes
// them: fds 3, 4, LISTEN_FDS, LISTEN_FDNAMES, and LISTEN_PID its own pid.
func TestSpawnListen(t *testing.T) {
	m := newManager(t, true)
	var files []*os.File
	var ls []Listener
	for i, name := range []string{"http", "admin"} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f, err := l.(*net.TCPListener).File()
		l.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		files = append(files, f)
		ls = append(ls, Listener{Owner: "svc", Addr: fmt.Sprint("tcp://x:", i), Name: name, File: f})
	}
	script := `echo "$LISTEN_FDS $LISTEN_FDNAMES $LISTEN_PID $$"; test -e /proc/self/fd/4 && ! test -e /proc/self/fd/5 && echo fds-ok`
	p, err := m.Spawn(Spec{Name: "listen", Args: []string{"/bin/sh", "-c", script}, Listen: ls,
		BaseEnv: []string{"PATH=/usr/bin:/bin", "LISTEN_FDS=9"}})
	if err != nil {
		t.Fatal(err)
	}
	out := readAll(t, p.Stdout())
	<-p.Done()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	f := strings.Fields(lines[0])
	if len(f) != 4 || f[0] != "2" || f[1] != "http:admin" || f[2] != f[3] || f[2] != fmt.Sprint(p.Pid()) {
		t.Fatalf("environment %q, pid %d", out, p.Pid())
	}
	if len(lines) < 2 || lines[1] != "fds-ok" {
		t.Fatalf("fds: %q", out)
	}
	// Without sockets, inherited LISTEN_* variables are not passed on.
	p, err = m.Spawn(Spec{Name: "plain", Args: []string{"/bin/sh", "-c", `echo "[$LISTEN_FDS]"`},
		BaseEnv: []string{"PATH=/usr/bin:/bin", "LISTEN_FDS=9"}})
	if err != nil {
		t.Fatal(err)
	}
	if out := strings.TrimSpace(readAll(t, p.Stdout())); out != "[]" {
		t.Fatalf("inherited LISTEN_FDS: %q", out)
	}
}
