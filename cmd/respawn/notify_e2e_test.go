//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// wipingNotifier is a service that does what redis does when it sets its
// process title: its environment is gone (here by exec'ing itself with an
// empty one) before it says READY=1, which it does once the file argv[1]
// exists.
const wipingNotifier = `import os, socket, sys, time
if "NOTIFY_SOCKET" in os.environ:
    os.execve(sys.executable, [sys.executable, sys.argv[0], sys.argv[1], os.environ["NOTIFY_SOCKET"]], {})
go, sock = sys.argv[1], sys.argv[2]
while not os.path.exists(go):
    time.sleep(0.02)
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"READY=1", sock)
time.sleep(100000)
`

// A service that wipes its environment before READY=1 is still known by its
// pid; one that runs as another user can reach its notify socket; its
// command is found through PATH as that user would find it (a root-only shim
// directory comes first); a READY=1 from a process outside the service is
// dropped, and `why` shows it with the reason.
func TestNotifyFromADaemonThatWipesItsEnvironment(t *testing.T) {
	t.Parallel()
	for _, as := range []string{"", "nobody"} {
		t.Run("user="+as, func(t *testing.T) {
			t.Parallel()
			if as != "" {
				if os.Geteuid() != 0 {
					t.Skip("needs root to run a service as another user")
				}
				if _, err := user.Lookup(as); err != nil {
					t.Skipf("no user %s", as)
				}
			}
			testWipingNotifier(t, as)
		})
	}
}

func testWipingNotifier(t *testing.T, as string) {
	dir := t.TempDir()
	// The service's user must reach its script, the flag file and the state dir.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script, flag := filepath.Join(dir, "svc.py"), filepath.Join(dir, "go")
	if err := os.WriteFile(script, []byte(wipingNotifier), 0o644); err != nil {
		t.Fatal(err)
	}
	// A shim only root can run comes first in PATH, as pyenv's in root's PATH.
	shims := filepath.Join(dir, "shims")
	if err := os.Mkdir(shims, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shims, "python3"), []byte("#!/bin/sh\nexec /usr/bin/python3 \"$@\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	userLine := ""
	if as != "" {
		userLine = "\n    user: " + as
	}
	state := filepath.Join(dir, "state")
	s := startSup(t, fmt.Sprintf(`
version: 1
supervisor: {state_dir: %q}
services:
  wiper:
    command: [python3, %q, %q]%s
    env: {PATH: "%s:/usr/local/bin:/usr/bin:/bin"}
    ready: {notify: true, deadline: 60s}
`, state, script, flag, userLine, shims))
	// Started, and its environment is gone.
	first := s.waitFor("wiper", "started with its environment wiped", func(x api.Service) bool {
		if x.State != "starting" || x.Pid == 0 {
			return false
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", x.Pid))
		return err == nil && len(env) == 0
	})
	if as != "" {
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", first.Pid))
		if !strings.Contains(string(status), "\nUid:\t65534\t") {
			t.Fatalf("the service does not run as %s:\n%s", as, status)
		}
	}

	// A READY=1 from outside the service (this test) is dropped.
	sock := filepath.Join(state, "notify", "wiper.sock")
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("READY=1")); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	var why api.Why
	end := time.Now().Add(deadline)
	for why.NotifyDropped == 0 && time.Now().Before(end) {
		out, errs, code := s.run("why", "wiper", "-o", "json")
		if code != 0 {
			t.Fatalf("why: exit %d: %s", code, errs)
		}
		if err := json.Unmarshal([]byte(out), &why); err != nil {
			t.Fatalf("why json: %v\n%s", err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := fmt.Sprintf("pid %d is not the main process (pid %d)", os.Getpid(), first.Pid)
	if why.NotifyDropped != 1 || len(why.NotifyDrops) != 1 || !strings.Contains(why.NotifyDrops[0].Reason, want) {
		t.Fatalf("why after a foreign READY=1: dropped %d, %+v; want one saying %q", why.NotifyDropped, why.NotifyDrops, want)
	}
	if got := s.service("wiper"); got.State != "starting" {
		t.Fatalf("a foreign READY=1 made the service %s", got.State)
	}

	// The service's own READY=1, sent with no RESPAWN_SERVICE left, counts.
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ready := s.waitFor("wiper", "running", func(x api.Service) bool { return x.State == "running" })
	if ready.Pid != first.Pid {
		t.Errorf("ready as pid %d, started as %d", ready.Pid, first.Pid)
	}
	out, _, _ := s.run("why", "wiper")
	if !strings.Contains(out, "sd_notify messages dropped: 1") || !strings.Contains(out, want) {
		t.Errorf("why does not show the dropped message:\n%s", out)
	}
}
