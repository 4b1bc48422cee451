//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// detached writes config into a fresh dir and returns the dir and config path;
// whatever `up -d` leaves running there is brought down at cleanup.
func detached(t *testing.T, config string) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "respawn.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		runRespawn(dir, "down", "-c", path)
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, ".respawn", "respawn.log"))
			t.Logf("supervisor log:\n%s", b)
		}
	})
	return dir, path
}

func detachedStatus(t *testing.T, dir, path string) api.Status {
	t.Helper()
	out, errs, code := runRespawn(dir, "status", "-o", "json", "-c", path)
	if code != 0 {
		t.Fatalf("status exit %d: %s", code, errs)
	}
	var st api.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status json: %v\n%s", err, out)
	}
	return st
}

// sessionID reads the session a process leads or belongs to from /proc.
func sessionID(t *testing.T, pid int) int {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	// After the command: state, ppid, pgrp, session.
	sid, err := strconv.Atoi(fields[3])
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

var upLine = regexp.MustCompile(`^respawn up \(pid (\d+)\), log: (\S+)\n$`)

func TestUpDetachReadyThenSingleton(t *testing.T) {
	t.Parallel()
	m := marker(t)
	envFile := filepath.Join(t.TempDir(), "env")
	dir, path := detached(t, fmt.Sprintf(`
version: 1
services:
  sleeper:
    command: ["sh", "-c", "env > %s; exec sleep %s"]
`, envFile, m))

	// runRespawn returns only once the CLI has exited and its stdout and
	// stderr are closed: the supervisor must hold neither.
	out, errs, code := runRespawn(dir, "up", "-d", "-c", path)
	if code != 0 {
		t.Fatalf("up -d: exit %d: %s%s", code, out, errs)
	}
	match := upLine.FindStringSubmatch(out)
	if match == nil {
		t.Fatalf("up -d printed %q", out)
	}
	pid, _ := strconv.Atoi(match[1])
	if want := filepath.Join(dir, ".respawn", "respawn.log"); match[2] != want {
		t.Errorf("log path %s, want %s", match[2], want)
	}
	// Ready means the socket answers and autostart services were started.
	st := detachedStatus(t, dir, path)
	if st.Supervisor.Pid != pid {
		t.Errorf("status pid %d, up -d said %d", st.Supervisor.Pid, pid)
	}
	if len(st.Services) != 1 || st.Services[0].Pid == 0 {
		t.Errorf("services right after up -d: %+v", st.Services)
	}
	waitCount(t, "sleep "+m, 1)
	// The ready pipe is the supervisor's business, not its services'.
	if b, err := os.ReadFile(envFile); err != nil || !bytes.Contains(b, []byte("PATH=")) || bytes.Contains(b, []byte("RESPAWN_READY_FD")) {
		t.Errorf("service environment (%v):\n%s", err, b)
	}
	if sid := sessionID(t, pid); sid != pid {
		t.Errorf("supervisor session %d, want its own (%d)", sid, pid)
	}
	if b, err := os.ReadFile(match[2]); err != nil || !bytes.Contains(b, []byte("ready")) {
		t.Errorf("supervisor log lacks its ready line: %v\n%s", err, b)
	}

	out, errs, code = runRespawn(dir, "up", "-d", "-c", path)
	if want := fmt.Sprintf("already running (pid %d)", pid); code != 3 || !strings.Contains(errs, want) {
		t.Errorf("second up -d: exit %d, %q %q; want 3 and %q", code, out, errs, want)
	}
	for _, args := range [][]string{{"up", "-d", "--ensure"}, {"up", "--ensure"}} {
		out, errs, code = runRespawn(dir, append(args, "-c", path)...)
		if code != 0 || out != "" || errs != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0 and silence", args, code, out, errs)
		}
	}
	if got := detachedStatus(t, dir, path).Supervisor.Pid; got != pid {
		t.Errorf("supervisor pid %d after --ensure, want %d", got, pid)
	}
	waitCount(t, "sleep "+m, 1)

	if _, errs, code := runRespawn(dir, "down", "-c", path); code != 0 {
		t.Fatalf("down: exit %d: %s", code, errs)
	}
	waitNone(t, "sleep "+m)
	end := time.Now().Add(deadline)
	for alive(pid) {
		if time.Now().After(end) {
			t.Fatalf("supervisor %d still alive after down", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestUpDetachBrokenConfigIsUsageError(t *testing.T) {
	t.Parallel()
	dir, path := detached(t, "version: 1\nservices:\n  a:\n    command: sleep 1\n    bogus: 1\n")
	out, errs, code := runRespawn(dir, "up", "-d", "-c", path)
	if code != 2 || !strings.Contains(errs, "respawn.yaml:5:5:") || !strings.Contains(errs, `"bogus"`) {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2 and the positioned error", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, ".respawn", "respawn.log")); err == nil {
		t.Errorf("a broken config must not get as far as detaching")
	}
}

func TestUpDetachReportsChildFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	// Readable by others: the supervisor refuses it once detached.
	if err := os.WriteFile(token, []byte("secret-0123456789abcdefghij\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir, path := detached(t, fmt.Sprintf(`
version: 1
supervisor:
  http:
    listen: 127.0.0.1:9
    token_file: %s
services:
  a:
    command: sleep 1
`, token))
	out, errs, code := runRespawn(dir, "up", "-d", "-c", path)
	if code != 1 || out != "" || !strings.Contains(errs, "token") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 with the reason", code, out, errs)
	}
	if _, _, code := runRespawn(dir, "status", "-c", path); code != 3 {
		t.Errorf("status after a failed up -d: exit %d, want 3 (not running)", code)
	}
}

// After `down`, logs and events read what the supervisor left, and say so.
func TestLogsAndEventsAfterDown(t *testing.T) {
	t.Parallel()
	m := marker(t)
	dir, path := detached(t, fmt.Sprintf(`
version: 1
services:
  talker:
    command: ["sh", "-c", "echo first-%[1]s; sleep 0.2; echo second-%[1]s >&2; exec sleep %[1]s"]
  quiet:
    command: ["sleep", "%[1]s"]
`, m))
	// The pause between the lines orders them in the log: lines of two
	// streams written at once may be read in either order (the portable
	// capture reads each stream on its own goroutine).
	if out, errs, code := runRespawn(dir, "up", "-d", "-c", path); code != 0 {
		t.Fatalf("up -d: exit %d: %s%s", code, out, errs)
	}
	waitUntil(t, "talker's lines in its log", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, ".respawn", "logs", "talker.log"))
		return bytes.Contains(b, []byte("second-"+m))
	})
	if _, errs, code := runRespawn(dir, "down", "-c", path); code != 0 {
		t.Fatalf("down: exit %d: %s", code, errs)
	}
	waitNone(t, "sleep "+m)

	out, errs, code := runRespawn(dir, "logs", "-c", path)
	want := "talker | first-" + m + "\ntalker ! second-" + m + "\n"
	if code != 0 || out != want {
		t.Errorf("logs after down: exit %d\n%q\nwant\n%q\n(stderr %q)", code, out, want, errs)
	}
	if !strings.Contains(errs, "no supervisor is running; showing the log files it left in "+filepath.Join(dir, ".respawn", "logs")) {
		t.Errorf("logs after down does not say where the lines come from: %q", errs)
	}
	if out, _, code := runRespawn(dir, "logs", "talker", "-n", "1", "-o", "json", "-c", path); code != 0 || !strings.Contains(out, `"line":"second-`+m+`"`) || strings.Count(out, "\n") != 1 {
		t.Errorf("logs talker -n 1 -o json after down: exit %d %q", code, out)
	}
	if _, errs, code := runRespawn(dir, "logs", "-f", "-c", path); code != 3 || !strings.Contains(errs, "nothing to follow") {
		t.Errorf("logs -f after down: exit %d %q, want 3", code, errs)
	}
	if _, _, code := runRespawn(dir, "logs", "nope", "-c", path); code != 2 {
		t.Errorf("logs of an unknown service after down: exit %d, want 2", code)
	}

	out, errs, code = runRespawn(dir, "events", "-o", "json", "-c", path)
	if code != 0 || !strings.Contains(errs, "showing the event journal it left") {
		t.Fatalf("events after down: exit %d, stderr %q", code, errs)
	}
	var sawStart, sawStop bool
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e api.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("events line %q: %v", line, err)
		}
		if e.Service == "talker" && e.To == "running" {
			sawStart = true
		}
		if e.Service == "talker" && e.To == "stopped" {
			sawStop = true
		}
	}
	if !sawStart || !sawStop {
		t.Errorf("events after down lack talker's start (%v) or stop (%v):\n%s", sawStart, sawStop, out)
	}
}

// up -d --wait returns once every service is ready, or fails naming the
// ones that failed, with their last lines.
func TestUpDetachWait(t *testing.T) {
	t.Parallel()
	m := marker(t)
	flag := filepath.Join(t.TempDir(), "ready")
	dir, path := detached(t, fmt.Sprintf(`
version: 1
services:
  slow:
    command: ["sh", "-c", "sleep 1; touch %s; exec sleep 50%s"]
    ready: {exec: [test, -f, %s], interval: 50ms, timeout: 60s}
  job:
    kind: oneshot
    command: ["true"]
`, flag, m, flag))
	start := time.Now()
	out, errs, code := runRespawn(dir, "up", "-d", "--wait", "-c", path)
	took := time.Since(start)
	if code != 0 || !strings.Contains(out, "2 services ready") {
		t.Fatalf("up -d --wait: exit %d\n%s%s", code, out, errs)
	}
	if took < time.Second {
		t.Errorf("up -d --wait returned after %s, before slow was ready (1 s)", took)
	}
	if st := detachedStatus(t, dir, path); st.Services[0].State != "running" {
		t.Errorf("slow after --wait: %+v", st.Services[0])
	}
	runRespawn(dir, "down", "-c", path)

	dir2, path2 := detached(t, fmt.Sprintf(`
version: 1
services:
  ok:
    command: ["sleep", "51%s"]
  broken:
    command: ["sh", "-c", "echo cannot open the database; exit 1"]
    restart: {backoff: {initial: 1s}}
`, m))
	out, errs, code = runRespawn(dir2, "up", "-d", "--wait", "-c", path2)
	if code != 1 || !strings.Contains(errs, "1 failed to start:") || !strings.Contains(errs, "broken: ") ||
		!strings.Contains(errs, "broken | cannot open the database") {
		t.Errorf("up -d --wait with a broken service: exit %d, want 1 naming it with its last line\n%s%s", code, out, errs)
	}
	runRespawn(dir2, "down", "-c", path2)
	// Plain up -d says which service exited at once (it may come back).
	waitNone(t, "sleep 51"+m)
	out, errs, code = runRespawn(dir2, "up", "-d", "-c", path2)
	if code != 0 {
		t.Fatalf("up -d: exit %d\n%s%s", code, out, errs)
	}
	if _, _, code := runRespawn(dir2, "up", "--wait", "-c", path2); code != 2 {
		t.Errorf("up --wait without -d: exit %d, want 2", code)
	}
}
