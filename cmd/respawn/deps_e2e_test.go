//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/respawn-sh/respawn/internal/api"
)

func firstStamp(t *testing.T, path string) int64 {
	t.Helper()
	f := strings.Fields(readFile(t, path))
	if len(f) == 0 {
		t.Fatalf("%s is empty", path)
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestDependenciesOrderStartRestartAndStop(t *testing.T) {
	t.Parallel()
	m := marker(t)
	dir := t.TempDir()
	stamp := func(name string) string { return filepath.Join(dir, name) }
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  api:
    command: ["sh", "-c", "date +%%s%%N >> %[2]s; exec sleep 1%[1]s"]
    depends_on: {db: {condition: ready, restart: true}, migrate: completed}
  migrate:
    kind: oneshot
    command: ["sh", "-c", "date +%%s%%N >> %[3]s; sleep 0.2; date +%%s%%N >> %[4]s"]
    depends_on: {db: ready}
  db:
    command: ["sh", "-c", "date +%%s%%N >> %[5]s; exec sleep 2%[1]s"]
`, m, stamp("api"), stamp("migrate-start"), stamp("migrate-done"), stamp("db")))
	api1 := s.waitFor("api", "running", func(x api.Service) bool { return x.State == "running" })
	if got := s.service("migrate"); got.State != "exited" || got.ExitCode == nil || *got.ExitCode != 0 {
		t.Errorf("migrate: %+v", got)
	}
	// Without a readiness probe, ready means spawned: the migration is spawned
	// after the db, and the api only after the migration has finished.
	dbRow, migRow := s.service("db"), s.service("migrate")
	if dbRow.StartedAt == nil || migRow.StartedAt == nil || api1.StartedAt == nil {
		t.Fatalf("rows lack start times: %+v %+v %+v", dbRow, migRow, api1)
	}
	if migRow.StartedAt.Before(*dbRow.StartedAt) {
		t.Errorf("migrate spawned at %v, before the db at %v", migRow.StartedAt, dbRow.StartedAt)
	}
	if done := firstStamp(t, stamp("migrate-done")); api1.StartedAt.UnixNano() < done {
		t.Errorf("api spawned at %d, before the migration finished at %d", api1.StartedAt.UnixNano(), done)
	}

	// Killing the db restarts it, and the api (restart: true) after it.
	db1 := s.service("db")
	syscall.Kill(db1.Pid, syscall.SIGKILL)
	s.waitFor("db", "respawned", func(x api.Service) bool { return x.State == "running" && x.Pid != db1.Pid })
	api2 := s.waitFor("api", "restarted", func(x api.Service) bool { return x.State == "running" && x.Pid != api1.Pid })
	if alive(api1.Pid) {
		t.Errorf("old api %d still alive", api1.Pid)
	}
	if n := strings.Count(readFile(t, stamp("api")), "\n"); n != 2 {
		t.Errorf("api started %d times, want 2", n)
	}
	if got := s.service("migrate"); got.Restarts != 0 {
		t.Errorf("migrate (no restart: true) ran again: %+v", got)
	}

	// down stops the api before the db.
	if _, stderr, code := s.run("down"); code != 0 {
		t.Fatalf("down: %d %s", code, stderr)
	}
	s.waitExit()
	stoppedFirst(t, s, "api", "db")
	_ = api2
}

// stoppedFirst checks in the journal that first reached stopped before second.
func stoppedFirst(t *testing.T, s *sup, first, second string) {
	t.Helper()
	events := readFile(t, filepath.Join(s.dir, ".respawn", "events.jsonl"))
	at := map[string]int{}
	for i, line := range strings.Split(events, "\n") {
		var e api.Event
		if json.Unmarshal([]byte(line), &e) != nil || e.Type != api.EventState || e.To != "stopped" {
			continue
		}
		if _, seen := at[e.Service]; !seen {
			at[e.Service] = i
		}
	}
	a, okA := at[first]
	b, okB := at[second]
	if !okA || !okB || a > b {
		t.Errorf("%s stopped at event %d (%v), %s at %d (%v): want %s first", first, a, okA, second, b, okB, first)
	}
}

func TestDependentWaitsForAFailedDependency(t *testing.T) {
	t.Parallel()
	m := marker(t)
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  broken: {command: ./does-not-exist}
  needy:
    command: sleep 3%[1]s
    depends_on: [broken]
`, m))
	s.waitFor("broken", "failed", func(x api.Service) bool { return x.State == "failed" })
	// Blocked: broken failed for good, so nothing ends the wait by itself.
	needy := s.waitFor("needy", "waiting, blocked", func(x api.Service) bool { return x.State == "waiting" && x.Blocked })
	if needy.Restarts != 0 || needy.Pid != 0 || !strings.HasPrefix(needy.WaitingOn, "waiting for broken") {
		t.Errorf("needy: %+v", needy)
	}
	if pids := procsWith("sleep 3" + m); len(pids) != 0 {
		t.Errorf("needy was spawned: %v", pids)
	}
	out, _, code := s.run("why", "needy")
	if code != 0 || !strings.Contains(out, "broken") || !strings.Contains(out, "failed") || !strings.Contains(out, "depends on:") {
		t.Errorf("why needy (exit %d):\n%s", code, out)
	}
	_, stderr, code := s.run("start", "needy")
	if code != 1 || !strings.Contains(stderr, "blocked: waiting for broken") {
		t.Errorf("start needy: exit %d %q", code, stderr)
	}
	if got := s.service("needy"); got.Restarts != 0 || got.Pid != 0 {
		t.Errorf("needy after start: %+v", got)
	}
}

func TestStartAndStopFollowDependencies(t *testing.T) {
	t.Parallel()
	m := marker(t)
	s := startSup(t, fmt.Sprintf(`
version: 1
defaults: {autostart: false}
services:
  web: {command: sleep 4%[1]s, depends_on: [db]}
  db: {command: sleep 5%[1]s}
`, m))
	out, stderr, code := s.run("start", "web")
	if code != 0 || !strings.Contains(out, "db: running") || !strings.Contains(out, "started first: web needs it") {
		t.Fatalf("start web: exit %d %q %q", code, out, stderr)
	}
	waitCount(t, "sleep 4"+m, 1)
	out, stderr, code = s.run("stop", "db")
	if code != 0 || !strings.Contains(out, "web: stopped") || !strings.Contains(out, "stopped first: it needs db") {
		t.Fatalf("stop db: exit %d %q %q", code, out, stderr)
	}
	waitNone(t, "sleep 4"+m)
	waitNone(t, "sleep 5"+m)
	// check prints the start order, dependencies first.
	out, _, code = s.run("check")
	if code != 0 || !strings.Contains(out, "start order: db, web") {
		t.Errorf("check: exit %d %q", code, out)
	}
}

func TestCheckReportsCycleAndUnknownKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "cycle.yaml")
	os.WriteFile(path, []byte("version: 1\nservices:\n  a:\n    command: x\n    depends_on: [b]\n  b:\n    command: y\n    depends_on: [a]\n    colour: red\n"), 0o644)
	_, stderr, code := runRespawn(dir, "check", "-c", path)
	if code != 2 {
		t.Fatalf("check: exit %d, want 2\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "dependency cycle") || !strings.Contains(stderr, path+":9:5:") {
		t.Errorf("check output lacks the cycle or the unknown key with positions:\n%s", stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.Contains(line, "cycle") && !strings.HasPrefix(strings.TrimPrefix(line, "respawn: "), path+":") {
			t.Errorf("cycle error without a position: %q", line)
		}
	}
}
