//go:build linux

package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// notified is a supervisor run as systemd would run it: with a notify socket
// the test listens on.
type notified struct {
	conn *net.UnixConn
	cmd  *exec.Cmd
	done chan error
	dir  string
	cfg  string
}

// startNotified writes config and runs `up` with NOTIFY_SOCKET (and env) set;
// the supervisor is stopped when the test ends.
func startNotified(t *testing.T, config string, env ...string) *notified {
	t.Helper()
	n := &notified{dir: t.TempDir(), done: make(chan error, 1)}
	sock := filepath.Join(n.dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n.conn = conn
	n.cfg = filepath.Join(n.dir, "respawn.yaml")
	if err := os.WriteFile(n.cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	n.cmd = exec.Command(bin, "up", "--no-output", "-c", n.cfg)
	n.cmd.Env = append(append(os.Environ(), "NOTIFY_SOCKET="+sock), env...)
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.done <- n.cmd.Wait() }()
	t.Cleanup(func() {
		n.cmd.Process.Signal(syscall.SIGTERM)
		n.done <- <-n.done
		conn.Close()
	})
	return n
}

// Under systemd (Type=notify) the supervisor says READY=1 with a status line
// once its services are started, and STOPPING=1 when it stops; its services do
// not inherit systemd's NOTIFY_SOCKET.
func TestSystemdNotify(t *testing.T) {
	t.Parallel()
	m := marker(t)
	n := startNotified(t, fmt.Sprintf("version: 1\nservices:\n  web: {command: sleep 4%s}\n", m))
	conn, cmd, done, dir, cfg := n.conn, n.cmd, n.done, n.dir, n.cfg
	read := func() string {
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(deadline))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no sd_notify message: %v", err)
		}
		return string(buf[:n])
	}
	msg := read()
	if !strings.Contains(msg, "READY=1") || !strings.Contains(msg, "STATUS=1 services: 1 running") {
		t.Fatalf("first message %q", msg)
	}
	s := &sup{t: t, dir: dir, config: cfg}
	row := s.waitFor("web", "running", func(x api.Service) bool { return x.State == "running" })
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", row.Pid))
	if err != nil || strings.Contains(string(env), "NOTIFY_SOCKET=") {
		t.Errorf("the service inherited NOTIFY_SOCKET (%v)", err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if msg := read(); !strings.Contains(msg, "STOPPING=1") {
		t.Errorf("on stop: %q", msg)
	}
	err = <-done
	if err != nil {
		t.Errorf("up: %v", err)
	}
	done <- err
}

// WATCHDOG=1 reaches systemd only while the core answers the keeper: a
// wedged core silences it (systemd would then act), a new core brings it back.
func TestSystemdWatchdogFollowsTheCore(t *testing.T) {
	t.Parallel()
	m := marker(t)
	// The core timeout leaves a -race core on a loaded machine room to start:
	// one declared hung before it is ready would count as a second restart.
	n := startNotified(t, fmt.Sprintf("version: 1\nsupervisor: {core_timeout: 5s}\nservices:\n  web: {command: sleep 5%s}\n", m),
		"WATCHDOG_USEC=400000")
	conn, dir, cfg := n.conn, n.dir, n.cfg
	// watchdogs counts WATCHDOG=1 messages until the deadline.
	watchdogs := func(until time.Time) int {
		n := 0
		buf := make([]byte, 4096)
		for {
			conn.SetReadDeadline(until)
			k, err := conn.Read(buf)
			if err != nil {
				return n
			}
			if strings.Contains(string(buf[:k]), "WATCHDOG=1") {
				n++
			}
		}
	}
	waitWatchdog := func() {
		t.Helper()
		end := time.Now().Add(deadline)
		for time.Now().Before(end) {
			if watchdogs(time.Now().Add(500*time.Millisecond)) > 0 {
				return
			}
		}
		t.Fatal("no WATCHDOG=1")
	}
	waitWatchdog()
	s := &sup{t: t, dir: dir, config: cfg}
	core := s.status().Supervisor.CorePid
	if err := syscall.Kill(core, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, core)
	// A pong already on its way may still land; after that, silence.
	watchdogs(time.Now().Add(500 * time.Millisecond))
	if n := watchdogs(time.Now().Add(1500 * time.Millisecond)); n != 0 {
		t.Fatalf("%d WATCHDOG=1 while the core was stopped", n)
	}
	// The keeper declares the core hung and starts another: the pings resume.
	waitWatchdog()
	if st := s.status(); st.Supervisor.CorePid == core || st.Supervisor.CoreRestarts != 1 {
		t.Fatalf("after the hang: %+v", st.Supervisor)
	}
}
