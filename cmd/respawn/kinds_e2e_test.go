package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	// Not run at up: a scheduled oneshot runs at its times.
	if got := s.service("tick"); got.State != "stopped" || got.NextRunAt == nil {
		t.Errorf("tick at up: %+v", got)
	}
	end := time.Now().Add(deadline)
	for countLines(t, runs) < 3 && time.Now().Before(end) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := countLines(t, runs); n < 3 {
		t.Fatalf("tick ran %d times, want at least 3", n)
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
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", row.Pid))
		if err != nil || !strings.Contains(string(env), fmt.Sprintf("\x00RESPAWN_INSTANCE=%d\x00", i)) {
			t.Errorf("%s (pid %d) lacks RESPAWN_INSTANCE=%d (%v)", name, row.Pid, i, err)
		}
		waitCount(t, fmt.Sprintf("sleep 9%s%d", m, i), 1)
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
