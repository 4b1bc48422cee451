//go:build linux

package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

func TestTCPReadinessOrdersTheStack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	port := freePort(t)
	listened := filepath.Join(dir, "listened")
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  db:
    command: ["python3", "-c", "import socket,time,sys; time.sleep(0.5); s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', %[1]d)); open(sys.argv[1], 'a').write('%%d\\n' %% time.time_ns()); s.listen(); time.sleep(100000)", "%[2]s"]
    ready: {tcp: "127.0.0.1:%[1]d", interval: 50ms, deadline: 30s}
  migrate:
    kind: oneshot
    command: ["sh", "-c", "sleep 0.2"]
    depends_on: {db: ready}
  api:
    command: sleep 100000
    depends_on: {db: {condition: ready, restart: true}, migrate: completed}
`, port, listened))
	// The db stamps the file just before listen: nothing can connect
	// earlier, so the stamp is a lower bound of when it listened (one taken
	// after listen could come after a probe's connection, on a loaded machine).
	api1 := s.waitFor("api", "running", func(x api.Service) bool { return x.State == "running" })
	mig := s.service("migrate")
	listenedAt := firstStamp(t, listened)
	if mig.StartedAt == nil || mig.StartedAt.UnixNano() < listenedAt {
		t.Errorf("migrate started at %v, before the db listened at %d", mig.StartedAt, listenedAt)
	}
	if api1.StartedAt.Before(mig.Since) {
		t.Errorf("api started at %v, before the migration finished at %v", api1.StartedAt, mig.Since)
	}

	// Killing the db: it comes back, becomes ready again, and the api follows.
	db := s.service("db")
	if _, _, code := s.run("signal", "KILL", "db"); code != 0 {
		t.Fatal("signal KILL db failed")
	}
	s.waitFor("db", "ready again", func(x api.Service) bool { return x.State == "running" && x.Pid != db.Pid })
	s.waitFor("api", "restarted", func(x api.Service) bool { return x.State == "running" && x.Pid != api1.Pid })

	// down stops the api before the db.
	if _, stderr, code := s.run("down"); code != 0 {
		t.Fatalf("down: %d %s", code, stderr)
	}
	s.waitExit()
	stoppedFirst(t, s, "api", "db")
}

func TestLogReadinessAndDeadline(t *testing.T) {
	t.Parallel()
	s := startSup(t, `
version: 1
services:
  talker:
    command: ["sh", "-c", "sleep 0.3; echo 'server is listening on :8080'; exec sleep 100000"]
    ready: {log: "listening on :[0-9]+", deadline: 30s}
  mute:
    command: sleep 100000
    ready: {log: "never printed", deadline: 500ms}
    restart: {backoff: {initial: 50ms, jitter: 0}, limit: {burst: 2, window: 1m}}
`)
	out, stderr, code := s.run("start", "talker")
	if code != 0 || !strings.Contains(out, "talker: running") {
		t.Errorf("start talker: exit %d %q %q", code, out, stderr)
	}
	mute := s.waitFor("mute", "failed", func(x api.Service) bool { return x.State == "failed" })
	if mute.Restarts != 1 {
		t.Errorf("mute: %+v", mute)
	}
	out, _, _ = s.run("why", "mute")
	if !strings.Contains(out, "not ready") {
		t.Errorf("why mute does not say it was not ready:\n%s", out)
	}
}

func TestHTTPLivenessRestartsAfterFailures(t *testing.T) {
	t.Parallel()
	// The endpoint fails exactly as many probes as it takes to restart once:
	// had the test turned it healthy again only after it saw the restart, a
	// slow status on a loaded machine would leave the new process to fail
	// its own probes and be restarted a second time.
	const failures = 2
	var toFail atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if toFail.Add(-1) >= 0 {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  web:
    command: sleep 100000
    health: {http: "%s/healthz", interval: 100ms, timeout: 1s, failures: %d}
`, srv.URL, failures))
	first := s.waitFor("web", "healthy", func(x api.Service) bool { return x.State == "running" && x.Health == "healthy" })
	toFail.Store(failures)
	second := s.waitFor("web", "restarted", func(x api.Service) bool { return x.State == "running" && x.Pid != first.Pid })
	if second.Restarts != 1 {
		t.Errorf("after the liveness restart: %+v", second)
	}
	out, _, _ := s.run("events", "-o", "json")
	if !strings.Contains(out, "unhealthy") || !strings.Contains(out, "500") {
		t.Errorf("the journal does not record the probe's error:\n%s", out)
	}
	s.waitFor("web", "healthy again", func(x api.Service) bool { return x.Health == "healthy" })
	if got := s.service("web"); got.Restarts != 1 || got.Pid != second.Pid {
		t.Errorf("restarted again after %d failed probes: %+v", failures, got)
	}
}

func TestMemoryMaxRestarts(t *testing.T) {
	t.Parallel()
	s := startSup(t, `
version: 1
services:
  hog:
    command: ["python3", "-c", "import time; b = bytearray(80 * 1024 * 1024); [b.__setitem__(i, 1) for i in range(0, len(b), 4096)]; time.sleep(100000)"]
    health: {memory_max: 40MB, interval: 100ms}
`)
	first := s.waitFor("hog", "running", func(x api.Service) bool { return x.State == "running" })
	s.waitFor("hog", "restarted", func(x api.Service) bool { return x.Restarts >= 1 && x.Pid != first.Pid })
	out, _, _ := s.run("why", "hog")
	if !strings.Contains(out, "memory_max") {
		t.Errorf("why hog does not name memory_max:\n%s", out)
	}
	_ = time.Second
}

func TestNotifyReadiness(t *testing.T) {
	t.Parallel()
	s := startSup(t, `
version: 1
services:
  notifier:
    command: ["python3", "-c", "import os,socket,time; time.sleep(0.3); s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b'STATUS=warming up' + bytes([10]) + b'READY=1', os.environ['NOTIFY_SOCKET']); time.sleep(100000)"]
    ready: {notify: true, deadline: 30s}
  silent:
    command: sleep 100000
    ready: {notify: true, deadline: 500ms}
    restart: {limit: {burst: 1, window: 1m}}
`)
	out, stderr, code := s.run("start", "notifier")
	if code != 0 || !strings.Contains(out, "notifier: running") {
		t.Errorf("start notifier: exit %d %q %q", code, out, stderr)
	}
	silent := s.waitFor("silent", "failed", func(x api.Service) bool { return x.State == "failed" })
	if silent.Restarts != 0 || !strings.Contains(silent.Error, "start limit") {
		t.Errorf("silent: %+v", silent)
	}
	out, _, _ = s.run("why", "silent")
	if !strings.Contains(out, "READY=1") {
		t.Errorf("why silent does not say READY=1 never came:\n%s", out)
	}
}

func TestWatchdogRestartsWhenPingsStop(t *testing.T) {
	t.Parallel()
	s := startSup(t, `
version: 1
services:
  pinger:
    command: ["python3", "-c", "import os,socket,time; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); p=os.environ['NOTIFY_SOCKET']; s.sendto(b'READY=1', p); [(s.sendto(b'WATCHDOG=1', p), time.sleep(0.1)) for _ in range(5)]; time.sleep(100000)"]
    ready: {notify: true, deadline: 30s}
    health: {notify: true, watchdog: 700ms}
`)
	first := s.waitFor("pinger", "running", func(x api.Service) bool { return x.State == "running" })
	s.waitFor("pinger", "restarted by its watchdog", func(x api.Service) bool { return x.Restarts >= 1 && x.Pid != first.Pid })
	out, _, _ := s.run("events", "-o", "json")
	if !strings.Contains(out, "unhealthy") {
		t.Errorf("the journal lacks the watchdog restart:\n%s", out)
	}
}

func TestExecReadiness(t *testing.T) {
	t.Parallel()
	flag := filepath.Join(t.TempDir(), "warm")
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  cache:
    command: ["sh", "-c", "sleep 0.3; touch %[1]s; exec sleep 100000"]
    ready: {exec: ["test", "-f", "%[1]s"], interval: 50ms, deadline: 30s}
    autostart: false
`, flag))
	t0 := time.Now()
	out, stderr, code := s.run("start", "cache")
	if code != 0 || !strings.Contains(out, "cache: running") {
		t.Fatalf("start cache: exit %d %q %q", code, out, stderr)
	}
	if time.Since(t0) < 300*time.Millisecond {
		t.Errorf("start returned after %v, before the probe could pass", time.Since(t0))
	}
	if got := s.service("cache"); got.State != "running" {
		t.Errorf("cache: %+v", got)
	}
}
