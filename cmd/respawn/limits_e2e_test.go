//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/respawn-sh/respawn/internal/api"
)

// manyErrors writes a config with four mistakes (unknown keys) in each of
// n services and returns its path.
func manyErrors(t *testing.T, dir string, n int) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("version: 1\nservices:\n")
	for i := range n {
		fmt.Fprintf(&b, "  s%d: {command: x, a: 1, b: 2, c: 3, d: 4}\n", i)
	}
	path := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// maxRSSBound is what checking that file may cost at most; it cost 480 MB
// when every error was collected. A race-enabled binary pays for shadow
// memory on top.
func maxRSSBound() int64 {
	if raceEnabled {
		return 1200 << 20
	}
	return 300 << 20
}

func TestCheckCapsErrorsAndMemory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := manyErrors(t, dir, 62500) // 250,000 errors
	cmd := exec.Command(bin, "check", "-c", path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 {
		t.Fatalf("check: %v, want exit 2", err)
	}
	lines := strings.Count(stderr.String(), path+":")
	if lines < 100 || lines > 101 {
		t.Errorf("check printed %d positioned errors, want the first 100 and a count of the rest", lines)
	}
	if !strings.Contains(stderr.String(), "checking stopped after 100 errors: 62475 more services were not checked") {
		t.Errorf("output does not say what was left out:\n%s", tail(stderr.String(), 400))
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
	t.Logf("check: max RSS %d MB", rss>>20)
	if rss > maxRSSBound() {
		t.Errorf("check used %d MB, want at most %d MB", rss>>20, maxRSSBound()>>20)
	}
}

// A reload with a config full of errors prints them (capped), exits 2,
// changes nothing, and leaves the core no fatter than it was by much.
func TestReloadWithManyErrorsPrintsThemAndExits2(t *testing.T) {
	t.Parallel()
	m := marker(t)
	s := startSup(t, fmt.Sprintf("version: 1\nservices:\n  a: {command: sleep 6%s}\n", m))
	before := s.waitFor("a", "running", func(v api.Service) bool { return v.State == "running" })
	core := s.status().Supervisor.CorePid
	// 25,000 errors: all of them made a 422 body too big for the client.
	bad, err := os.ReadFile(manyErrors(t, t.TempDir(), 6250))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.config, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := s.run("reload")
	if code != 2 {
		t.Fatalf("reload: exit %d, want 2; stdout %q stderr %q", code, out, tail(errs, 400))
	}
	if n := strings.Count(errs, s.config+":"); n < 100 || n > 101 || !strings.Contains(errs, "checking stopped after 100 errors: 6225 more services") {
		t.Errorf("reload printed %d positioned errors:\n%s", n, tail(errs, 400))
	}
	if after := s.service("a"); after.Pid != before.Pid || after.State != "running" {
		t.Errorf("a changed: %+v, was pid %d", after, before.Pid)
	}
	if rss := vmRSS(t, core); rss > maxRSSBound()/2 {
		t.Errorf("core holds %d MB after a failed reload", rss>>20)
	} else {
		t.Logf("core RSS after the failed reload: %d MB", rss>>20)
	}
}

// vmRSS reads a process's resident memory.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// With a low hard limit on open files, the services that cannot be spawned
// make `up -d` fail naming them, leave no cgroup behind, and the start says
// how many services the limit allows.
func TestUpDetachUnderLowFdLimitNamesFailures(t *testing.T) {
	t.Parallel()
	m := marker(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "respawn.yaml")
	var b strings.Builder
	b.WriteString("version: 1\nservices:\n")
	const services = 100
	for i := range services {
		fmt.Fprintf(&b, "  s%d: {command: sleep 5%s}\n", i, m)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// sh's ulimit -n sets the soft and the hard limit.
	cmd := exec.Command("sh", "-c", `ulimit -n 200 && exec "$0" up -d -c "$1"`, bin, path)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Cleanup(func() {
		runRespawn(dir, "down", "-c", path)
		waitNone(t, "sleep 5"+m)
	})
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("up -d: %v, want exit 1; stderr %q", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "services failed to start") || !strings.Contains(stderr.String(), "too many open files") {
		t.Errorf("up -d does not name the failures: %q", stderr.String())
	}
	out, errs, code := runRespawn(dir, "status", "-o", "json", "-c", path)
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, errs)
	}
	st := decodeStatus(t, out)
	var running, failed []api.Service
	for _, svc := range st.Services {
		switch svc.State {
		case "running":
			running = append(running, svc)
		case "failed":
			failed = append(failed, svc)
			if !strings.Contains(stderr.String(), svc.Name+" (") && strings.Count(stderr.String(), " (") < 20 {
				t.Errorf("up -d does not name %s", svc.Name)
			}
		}
	}
	if len(running) == 0 || len(failed) == 0 {
		t.Fatalf("%d running, %d failed: want both", len(running), len(failed))
	}
	log, err := os.ReadFile(filepath.Join(st.Supervisor.StateDir, "respawn.log"))
	if err == nil && !strings.Contains(string(log), "allows_services=") {
		t.Errorf("the start does not say how many services the limit allows:\n%s", log)
	}

	var base string
	if st.Supervisor.Containment == "cgroup" {
		base = serviceCgroupBase(t, running[0].Pid)
		entries, err := os.ReadDir(base)
		if err != nil {
			t.Fatal(err)
		}
		cgroups := 0
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			cgroups++
			procs, _ := os.ReadFile(filepath.Join(base, e.Name(), "cgroup.procs"))
			if len(bytes.TrimSpace(procs)) == 0 {
				t.Errorf("empty cgroup %s left by a failed spawn", e.Name())
			}
		}
		// The core runs in a cgroup of its own, besides the services.
		if cgroups > len(running)+1 {
			t.Errorf("%d cgroups for %d running services", cgroups, len(running))
		}
	}
	if _, errs, code := runRespawn(dir, "down", "-c", path); code != 0 {
		t.Fatalf("down: exit %d: %s", code, errs)
	}
	waitNone(t, "sleep 5"+m)
	if base != "" {
		if _, err := os.Stat(base); !os.IsNotExist(err) {
			entries, _ := os.ReadDir(base)
			t.Errorf("cgroup %s still there after down (%v): %d entries", base, err, len(entries))
		}
	}
}

// serviceCgroupBase returns the directory of the cgroup holding every
// service of the supervisor that runs pid: the parent of pid's cgroup.
func serviceCgroupBase(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	var rel string
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			rel = v
		}
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(mi)) {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		f := strings.Fields(pre)
		if len(f) >= 5 && rel != "" {
			rel = strings.TrimPrefix(rel, strings.TrimSuffix(f[3], "/"))
			return filepath.Dir(filepath.Join(f[4], rel))
		}
	}
	t.Fatalf("no cgroup2 path for pid %d", pid)
	return ""
}

func decodeStatus(t *testing.T, out string) api.Status {
	t.Helper()
	var st api.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status json: %v\n%s", err, out)
	}
	return st
}
