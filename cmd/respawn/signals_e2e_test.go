//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/api"
)

// trapService is a shell service that, on its stop signal TERM, appends
// "stopped" to path and exits 0: proof that it was stopped gracefully.
func trapService(path string) string {
	return fmt.Sprintf(`["sh", "-c", "trap 'echo stopped >> %s; exit 0' TERM; while :; do sleep 0.05; done"]`, path)
}

// waitFileHas polls path until it contains want.
func waitFileHas(t *testing.T, path, want string) {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("%s never held %q; it holds %q", path, want, b)
}

// A run that misses its readiness deadline gets its stop signal, not SIGKILL
// at once: it can clean up.
func TestReadinessDeadlineSendsTheStopSignal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stopped := filepath.Join(dir, "stopped")
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  slow:
    command: %s
    ready: {exec: ["false"], interval: 100ms, deadline: 3s}
    stop: {signal: TERM, timeout: 20s}
    restart: {backoff: {initial: 1h, max: 1h}}
`, trapService(stopped)))
	// The deadline leaves the shell ample time to set its trap even on a
	// loaded machine: a TERM before it would end the shell without the record.
	waitFileHas(t, stopped, "stopped")
	svc := s.waitFor("slow", "backoff", func(v api.Service) bool { return v.State == "backoff" })
	if svc.ExitCode == nil || *svc.ExitCode != 0 || svc.ExitSignal != "" || !strings.Contains(svc.Error, "not ready") {
		t.Errorf("after the deadline: %+v", svc)
	}
}

// What a waiting service waits for names its dependency's current state, and
// follows it as it changes.
func TestWaitingReasonFollowsTheDependency(t *testing.T) {
	t.Parallel()
	m := marker(t)
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  db:
    command: sleep 7%[1]s
    autostart: false
    ready: {exec: ["test", "-f", "%[2]s"], interval: 100ms, deadline: 1m}
  web:
    command: sleep 8%[1]s
    depends_on: {db: ready}
`, m, ready))
	s.waitFor("web", "waiting on a stopped db", func(v api.Service) bool {
		return v.State == "waiting" && strings.Contains(v.WaitingOn, "db to be ready (it is stopped)")
	})
	// `start db` waits for db to be ready: run it aside.
	started := make(chan int, 1)
	go func() {
		_, _, code := s.run("start", "db")
		started <- code
	}()
	s.waitFor("db", "starting", func(v api.Service) bool { return v.State == "starting" })
	web := s.waitFor("web", "waiting on a starting db", func(v api.Service) bool {
		return v.State == "waiting" && strings.Contains(v.WaitingOn, "db to be ready (it is starting)")
	})
	if web.Blocked {
		t.Errorf("web reads blocked while db is starting: %q", web.WaitingOn)
	}
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.waitFor("web", "running", func(v api.Service) bool { return v.State == "running" })
	select {
	case code := <-started:
		if code != 0 {
			t.Errorf("start db: exit %d", code)
		}
	case <-time.After(deadline):
		t.Errorf("start db did not return")
	}
}

// SIGQUIT (Ctrl-\ on a foreground `up`) stops every service gracefully, like
// SIGTERM, and the supervisor exits 0.
func TestSigquitStopsGracefully(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stopped := filepath.Join(dir, "stopped")
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  trap:
    command: %s
`, trapService(stopped)))
	s.waitFor("trap", "running", func(v api.Service) bool { return v.State == "running" })
	if err := s.cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	s.waitExit() // fails unless it exits 0
	if b, _ := os.ReadFile(stopped); !strings.Contains(string(b), "stopped") {
		t.Errorf("the service's TERM handler did not run: %q", b)
	}
	if log := s.stderr.String(); !strings.Contains(log, "supervisor stopped") || strings.Contains(log, "goroutine ") {
		t.Errorf("log after SIGQUIT:\n%s", log)
	}
}

// USR2 and ALRM are logged and otherwise change nothing.
func TestUsr2AndAlrmAreIgnored(t *testing.T) {
	t.Parallel()
	m := marker(t)
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  a: {command: sleep 9%s}
`, m))
	before := s.waitFor("a", "running", func(v api.Service) bool { return v.State == "running" })
	core := s.status().Supervisor.CorePid
	for _, sig := range []syscall.Signal{syscall.SIGUSR2, syscall.SIGALRM} {
		if err := s.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		name := unix.SignalName(sig)
		end := time.Now().Add(deadline)
		for !strings.Contains(s.stderr.String(), "signal="+name) {
			if time.Now().After(end) {
				t.Fatalf("no log line for %s:\n%s", name, s.stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	st := s.status()
	if st.Supervisor.CorePid != core || len(st.Services) != 1 || st.Services[0].Pid != before.Pid || st.Services[0].State != "running" {
		t.Errorf("after USR2 and ALRM: %+v %+v", st.Supervisor, st.Services)
	}
	select {
	case <-s.exited:
		t.Fatalf("supervisor exited: %v", s.exitErr)
	default:
	}
}

// USR1 reopens every log file by path: after logrotate's move, new lines go to
// a fresh file at the original path, the supervisor's own log too.
func TestUsr1ReopensLogFiles(t *testing.T) {
	t.Parallel()
	dir, path := detached(t, `
version: 1
services:
  ticker:
    command: ["sh", "-c", "i=0; while :; do echo $i; i=$((i+1)); sleep 0.02; done"]
`)
	out, errs, code := runRespawn(dir, "up", "-d", "-c", path)
	if code != 0 {
		t.Fatalf("up -d: exit %d: %s%s", code, out, errs)
	}
	pid := detachedStatus(t, dir, path).Supervisor.Pid
	state := filepath.Join(dir, ".respawn")
	svcLog, ownLog := filepath.Join(state, "logs", "ticker.log"), filepath.Join(state, "respawn.log")
	waitLines(t, svcLog, 0, 3)
	for _, p := range []string{svcLog, ownLog} {
		if err := os.Rename(p, p+".1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	n := waitLines(t, svcLog, 0, 3)
	moved := readFile(t, svcLog+".1")
	waitLines(t, svcLog, n, 5)
	if again := readFile(t, svcLog+".1"); again != moved {
		t.Errorf("the moved service log still grows after USR1")
	}
	waitFileHas(t, ownLog, "log files reopened")
	if st := detachedStatus(t, dir, path); st.Supervisor.Pid != pid || len(st.Services) != 1 || st.Services[0].State != "running" {
		t.Errorf("after USR1: %+v %+v", st.Supervisor, st.Services)
	}
}

// A foreground `up` whose stderr pipe is closed (`up | less`, then q) goes on:
// its log writes fail, SIGPIPE does not end it and its services.
func TestClosedStderrPipeKillsNothing(t *testing.T) {
	t.Parallel()
	m := marker(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "respawn.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf("version: 1\nservices:\n  a: {command: sleep 10%s}\n", m)), 0o644); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "up", "--no-output", "-c", path)
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		runRespawn(dir, "down", "-c", path)
		select {
		case <-exited:
		case <-time.After(deadline):
			cmd.Process.Kill()
		}
	})
	waitCount(t, "sleep 10"+m, 1)
	r.Close()
	// Each of these makes the keeper log a line into the closed pipe.
	for _, sig := range []syscall.Signal{syscall.SIGUSR2, syscall.SIGALRM, syscall.SIGUSR2} {
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if _, errs, code := runRespawn(dir, "status", "-c", path); code != 0 {
			t.Fatalf("status after a log write into a closed pipe: exit %d %s", code, errs)
		}
	}
	select {
	case err := <-exited:
		t.Fatalf("supervisor ended: %v", err)
	default:
	}
	waitCount(t, "sleep 10"+m, 1)
}
