package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
    ready: {exec: ["false"], interval: 100ms, deadline: 1s}
    stop: {signal: TERM, timeout: 20s}
    restart: {backoff: {initial: 1h, max: 1h}}
`, trapService(stopped)))
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
	if strings.HasPrefix(web.WaitingOn, "blocked") {
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
