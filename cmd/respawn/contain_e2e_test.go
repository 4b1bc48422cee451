//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// recordsList returns the pids listed in the keeper's records under dir's
// state dir (found by name, wherever the state dir puts it).
func recordsList(t *testing.T, dir string) []int {
	t.Helper()
	var pids []int
	_ = filepath.WalkDir(filepath.Join(dir, ".respawn"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "keeper.pids" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) == 3 {
				if pid, err := strconv.Atoi(f[0]); err == nil {
					pids = append(pids, pid)
				}
			}
		}
		return nil
	})
	return pids
}

// noTwo fails the test as soon as two processes run cmd at once.
func noTwo(t *testing.T, cmd string) {
	t.Helper()
	if pids := procsWith(cmd); len(pids) > 1 {
		t.Fatalf("%q runs %d times at once: %v", cmd, len(pids), pids)
	}
}

// In process-group containment a descendant that called setsid has left the
// service's group: it is still found (through the tree, and as an orphan the
// keeper adopts) and stopped with its service, by stop, by down, and, after a
// keeper death, by the next up, from the records.
func TestProcessGroupContainmentStopsSetsidEscapers(t *testing.T) {
	t.Parallel()
	m := marker(t)
	esc := "sleep 9" + m
	s := startSup(t, fmt.Sprintf(`version: 1
supervisor: {containment: process-group}
defaults:
  stop: {timeout: 5s}
services:
  esc:
    command: ["sh", "-c", "setsid %s & wait"]
`, esc))
	if st := s.status(); st.Supervisor.Containment != "process-group" || st.Services[0].Containment != "process-group" {
		t.Fatalf("containment in force: supervisor %q, service %q", st.Supervisor.Containment, st.Services[0].Containment)
	}
	if table, _, _ := s.run("status"); !strings.Contains(table, "containment: process-group (") {
		t.Errorf("status does not say which containment holds and what it covers:\n%s", table)
	}
	s.waitFor("esc", "running", func(v api.Service) bool { return v.State == "running" })
	waitOne(t, esc)

	// stop
	if _, errs, code := s.run("stop", "esc"); code != 0 {
		t.Fatalf("stop: exit %d: %s", code, errs)
	}
	waitNone(t, esc)

	// start again, then down
	if _, errs, code := s.run("start", "esc"); code != 0 {
		t.Fatalf("start: exit %d: %s", code, errs)
	}
	waitOne(t, esc)
	if _, errs, code := s.run("down"); code != 0 {
		t.Fatalf("down: exit %d: %s", code, errs)
	}
	s.waitExit()
	waitNone(t, esc)

	// up, the keeper is killed, up again
	s2 := &sup{t: t, dir: s.dir, config: s.config, stderr: &syncBuffer{}, exited: make(chan struct{})}
	s2.start()
	waitOne(t, esc)
	old := procsWith(esc)[0]
	// The keeper records the escaper (it finds it soon after the spawn).
	end := time.Now().Add(deadline)
	for !slices.Contains(recordsList(t, s.dir), old) {
		if time.Now().After(end) {
			t.Fatalf("escaper %d never recorded; records %v", old, recordsList(t, s.dir))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s2.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s2.exited
	if !alive(old) {
		t.Logf("escaper %d died with the keeper", old)
	}
	s3 := &sup{t: t, dir: s.dir, config: s.config, stderr: &syncBuffer{}, exited: make(chan struct{})}
	s3.start()
	noTwo(t, esc)
	s3.waitFor("esc", "running", func(v api.Service) bool { return v.State == "running" })
	noTwo(t, esc)
	waitGonePid(t, old)
	waitOne(t, esc)
	if _, errs, code := s3.run("down"); code != 0 {
		t.Fatalf("down: exit %d: %s", code, errs)
	}
	s3.waitExit()
	waitNone(t, esc)
}

// A service whose main process ends by itself leaves its setsid escaper to
// the keeper, which counts it as the service's: the next run never starts
// beside it.
func TestProcessGroupEscaperOfEndedRunIsKilled(t *testing.T) {
	t.Parallel()
	m := marker(t)
	esc := "sleep 8" + m
	if posixRun() {
		t.Skip("the POSIX path has no subreaper: an escaper whose parent ends before the first scan finds it (0.5 s after the spawn) goes to init beyond reach (docs/config.md, Containment)")
	}
	s := startSup(t, fmt.Sprintf(`version: 1
supervisor: {containment: process-group}
services:
  esc:
    command: ["sh", "-c", "setsid %s & sleep 0.3"]
    restart: {policy: always, backoff: {initial: 1s, max: 1s, jitter: 0}}
`, esc))
	s.waitFor("esc", "restarted", func(v api.Service) bool { return v.Restarts >= 3 })
	// Three runs ended, each leaving an escaper: at most the current one lives.
	noTwo(t, esc)
}

// containment: cgroup refuses to start where cgroup2 is not writable, and
// says so; auto falls back to process groups there.
func TestCgroupContainmentRequiredFailsClearly(t *testing.T) {
	t.Parallel()
	unshare, err := exec.LookPath("unshare")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and unshare(1) to hide cgroup2 in a mount namespace")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "respawn.yaml")
	write := func(containment string) {
		src := fmt.Sprintf("version: 1\nsupervisor: {containment: %s}\nservices: {}\n", containment)
		if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A read-only bind of every cgroup2 mount, seen only by this command.
	script := `set -e
awk '$0 ~ / - cgroup2 / {print $5}' /proc/self/mountinfo | while read -r m; do mount -o remount,bind,ro "$m"; done
exec "$@"`
	run := func(args ...string) (string, int) {
		cmd := exec.Command(unshare, append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh", bin}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	write("cgroup")
	out, code := run("up", "-d", "-c", cfg)
	want := "cgroup containment is not available"
	if posixRun() {
		want = "supervisor.containment: cgroup needs cgroups, which platform posix does not use"
	}
	if code == 0 || !strings.Contains(out, want) {
		t.Fatalf("up -d with containment: cgroup and no writable cgroup2: exit %d, output %q", code, out)
	}
	if _, _, code := runRespawn(dir, "status", "-c", cfg); code != 3 {
		t.Errorf("status after a refused up: exit %d, want 3", code)
	}
	write("auto")
	out, code = run("up", "-d", "-c", cfg)
	if code != 0 {
		t.Fatalf("up -d with containment: auto: exit %d: %s", code, out)
	}
	defer runRespawn(dir, "down", "-c", cfg)
	out, errs, code := runRespawn(dir, "status", "-o", "json", "-c", cfg)
	var st api.Status
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil || st.Supervisor.Containment != "process-group" {
		t.Errorf("status: exit %d, %v: %s %s", code, err, out, errs)
	}
}
