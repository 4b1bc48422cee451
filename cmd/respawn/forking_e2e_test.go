//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/respawn-sh/respawn/internal/api"
)

// A forking launcher that exits before its daemon writes the pidfile (as
// nginx's does) while the file still names a daemon that is gone (killed
// with -9, it could not remove it): the stale pid is read past, and the new
// daemon is adopted on the first start, with no failure counted.
func TestForkingDaemonPastAStalePidfile(t *testing.T) {
	t.Parallel()
	m := marker(t)
	pidfile := filepath.Join(t.TempDir(), "daemon.pid")
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pidfile, []byte(fmt.Sprintf("%d\n", gone.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  daemon:
    kind: forking
    command: ["sh", "-c", "setsid sh -c 'sleep 0.3; echo $$$$ > %[2]s; exec sleep 6%[1]s' >/dev/null 2>&1 &"]
    pidfile: %[2]s
    restart: {backoff: {initial: 50ms}}
`, m, pidfile))
	got := s.waitFor("daemon", "running", func(x api.Service) bool { return x.State == "running" })
	if pid := readPid(t, pidfile); got.Pid != pid || got.Restarts != 0 {
		t.Errorf("running %+v; pidfile says %d: want that pid, no restart", got, pid)
	}
	if out, _, _ := s.run("why", "daemon"); !strings.Contains(out, "no exits recorded") {
		t.Errorf("a failed start was recorded:\n%s", out)
	}
	waitCount(t, "sleep 6"+m, 1)
	if _, _, code := s.run("down"); code != 0 {
		t.Fatal("down failed")
	}
	s.waitExit()
	waitNone(t, "sleep 6"+m)
}
