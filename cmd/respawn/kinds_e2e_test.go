//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

func TestScheduledOneshotRunsRepeatedlyAndSkipsOverlaps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  tick:
    kind: oneshot
    schedule: "@every 1s"
    command: ["sh", "-c", "date +%%s%%N >> %s"]
  slow:
    kind: oneshot
    schedule: "@every 1s"
    command: sleep 2.5
`, runs))
	st := s.status()
	for _, got := range st.Services {
		if got.Name == "tick" && got.NextRunAt == nil {
			t.Errorf("tick has no next run: %+v", got)
		}
	}
	end := time.Now().Add(deadline)
	for countLines(t, runs) < 3 && time.Now().Before(end) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := countLines(t, runs); n < 3 {
		t.Fatalf("tick ran %d times, want at least 3", n)
	}
	// Not run at up: a scheduled oneshot runs at its times, the first a
	// second after the supervisor started. (Asking whether it ran yet right
	// after up would depend on how fast up was.)
	if first, up := firstStamp(t, runs), st.Supervisor.StartedAt; first < up.Add(time.Second).UnixNano() {
		t.Errorf("tick first ran %s after the supervisor started, want a second or more", time.Duration(first-up.UnixNano()))
	}
	if got := s.service("tick"); got.ExitCode == nil || *got.ExitCode != 0 {
		t.Errorf("tick: %+v", got)
	}
	// slow takes 2.5 s with a run due every second: runs are skipped, and said so.
	var skipped bool
	for end := time.Now().Add(deadline); !skipped && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		out, _, _ := s.run("events", "-o", "json")
		for _, line := range strings.Split(out, "\n") {
			var e api.Event
			if json.Unmarshal([]byte(line), &e) == nil && e.Type == api.EventSchedule && e.Service == "slow" && strings.Contains(e.Reason, "skipped") {
				skipped = true
			}
		}
	}
	if !skipped {
		t.Error("no skipped run of slow was recorded")
	}
}

func TestReplicasRunAsInstances(t *testing.T) {
	t.Parallel()
	m := marker(t)
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  worker:
    replicas: 3
    command: ["sh", "-c", "exec sleep 9%[1]s${RESPAWN_INSTANCE}"]
  api:
    command: sleep 8%[1]s
    depends_on: [worker]
`, m))
	var pids []int
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("worker.%d", i)
		row := s.waitFor(name, "running", func(x api.Service) bool { return x.State == "running" })
		sleep := fmt.Sprintf("sleep 9%s%d", m, i)
		if env := environOf(t, row.Pid, sleep); !strings.Contains(env, fmt.Sprintf("\x00RESPAWN_INSTANCE=%d\x00", i)) {
			t.Errorf("%s (pid %d) lacks RESPAWN_INSTANCE=%d", name, row.Pid, i)
		}
		waitCount(t, sleep, 1)
		pids = append(pids, row.Pid)
	}
	s.waitFor("api", "running", func(x api.Service) bool { return x.State == "running" })
	// A command on the name acts on every instance.
	out, stderr, code := s.run("restart", "worker")
	if code != 0 || strings.Count(out, "worker.") != 3 {
		t.Fatalf("restart worker: exit %d %q %q", code, out, stderr)
	}
	for i := 1; i <= 3; i++ {
		row := s.service(fmt.Sprintf("worker.%d", i))
		if row.State != "running" || slices.Contains(pids, row.Pid) {
			t.Errorf("worker.%d after restart: %+v (old pids %v)", i, row, pids)
		}
	}
	if _, _, code := s.run("stop", "worker"); code != 0 {
		t.Errorf("stop worker: exit %d", code)
	}
	for i := 1; i <= 3; i++ {
		waitNone(t, fmt.Sprintf("sleep 9%s%d", m, i))
	}
	waitNone(t, "sleep 8"+m) // api needs the workers: stopped first
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	var pid int
	if _, err := fmt.Sscan(readFile(t, path), &pid); err != nil {
		t.Fatalf("pidfile %s: %v", path, err)
	}
	return pid
}

func TestForkingDaemonIsTrackedByItsPidfile(t *testing.T) {
	t.Parallel()
	m := marker(t)
	pidfile := filepath.Join(t.TempDir(), "daemon.pid")
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  daemon:
    kind: forking
    command: ["sh", "-c", "setsid sleep 6%[1]s >/dev/null 2>&1 & echo $! > %[2]s"]
    pidfile: %[2]s
    restart: {backoff: {initial: 50ms}}
`, m, pidfile))
	first := s.waitFor("daemon", "running", func(x api.Service) bool { return x.State == "running" })
	if pid := readPid(t, pidfile); first.Pid != pid {
		t.Fatalf("tracked pid %d, pidfile says %d", first.Pid, pid)
	}
	syscall.Kill(first.Pid, syscall.SIGKILL)
	second := s.waitFor("daemon", "respawned", func(x api.Service) bool { return x.State == "running" && x.Pid != first.Pid })
	if second.Restarts != 1 || second.Pid != readPid(t, pidfile) {
		t.Errorf("after the kill: %+v, pidfile %d", second, readPid(t, pidfile))
	}
	waitCount(t, "sleep 6"+m, 1)
	if _, _, code := s.run("down"); code != 0 {
		t.Fatal("down failed")
	}
	s.waitExit()
	waitNone(t, "sleep 6"+m)
}

func TestExternalProcessIsAdoptedAndRestarted(t *testing.T) {
	t.Parallel()
	m := marker(t)
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "ext.pid")
	pre := exec.Command("sleep", "7"+m)
	pre.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := pre.Start(); err != nil {
		t.Fatal(err)
	}
	preDone := make(chan struct{})
	go func() { pre.Wait(); close(preDone) }()
	t.Cleanup(func() { pre.Process.Kill(); <-preDone })
	os.WriteFile(pidfile, []byte(fmt.Sprintf("%d\n", pre.Process.Pid)), 0o644)
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  ext:
    kind: external
    pidfile: %[2]s
    start: ["sh", "-c", "setsid sleep 7%[1]s >/dev/null 2>&1 & echo $! > %[2]s"]
    restart: {backoff: {initial: 50ms}}
`, m, pidfile))
	got := s.waitFor("ext", "adopted", func(x api.Service) bool { return x.State == "running" })
	if got.Pid != pre.Process.Pid {
		t.Fatalf("ext runs pid %d, want the adopted %d", got.Pid, pre.Process.Pid)
	}
	waitCount(t, "sleep 7"+m, 1) // not started twice
	pre.Process.Kill()
	<-preDone
	again := s.waitFor("ext", "restarted with its start command", func(x api.Service) bool {
		return x.State == "running" && x.Pid != pre.Process.Pid
	})
	if again.Pid != readPid(t, pidfile) || again.Restarts != 1 {
		t.Errorf("after the kill: %+v, pidfile %d", again, readPid(t, pidfile))
	}
	waitCount(t, "sleep 7"+m, 1)
	if _, _, code := s.run("stop", "ext"); code != 0 {
		t.Error("stop ext failed")
	}
	waitNone(t, "sleep 7"+m)
}

func TestGroupsInCommands(t *testing.T) {
	t.Parallel()
	m := marker(t)
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  a: {command: sleep 1%[1]s, group: web}
  b: {command: sleep 2%[1]s, group: web}
  c: {command: sleep 3%[1]s}
`, m))
	for _, n := range []string{"a", "b", "c"} {
		s.waitFor(n, "running", func(x api.Service) bool { return x.State == "running" })
	}
	out, stderr, code := s.run("stop", "@web")
	if code != 0 || !strings.Contains(out, "a: stopped") || !strings.Contains(out, "b: stopped") {
		t.Fatalf("stop @web: exit %d %q %q", code, out, stderr)
	}
	if c := s.service("c"); c.State != "running" {
		t.Errorf("c was touched: %+v", c)
	}
	if _, _, code := s.run("start", "@nope"); code != 2 {
		t.Errorf("start @nope: exit %d, want 2", code)
	}
}

func TestExternalFoundByCommandLine(t *testing.T) {
	t.Parallel()
	m := marker(t)
	pre := exec.Command("sleep", "8"+m)
	if err := pre.Start(); err != nil {
		t.Fatal(err)
	}
	preDone := make(chan struct{})
	go func() { pre.Wait(); close(preDone) }()
	t.Cleanup(func() { pre.Process.Kill(); <-preDone })
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  ext: {kind: external, match: "^sleep 8%s$"}
`, m))
	got := s.waitFor("ext", "adopted", func(x api.Service) bool { return x.State == "running" })
	if got.Pid != pre.Process.Pid {
		t.Fatalf("ext runs pid %d, want %d", got.Pid, pre.Process.Pid)
	}
	// Without a start command, respawn cannot bring it back: it says so.
	pre.Process.Kill()
	<-preDone
	failed := s.waitFor("ext", "failed", func(x api.Service) bool { return x.State == "failed" })
	if !strings.Contains(failed.Error, "not running") {
		t.Errorf("ext: %+v", failed)
	}
}
