//go:build linux

package main

import (
	"bytes"
	"fmt"
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

func TestCrashLoopStopsAtBurstWithGrowingGaps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	starts := filepath.Join(dir, "starts")
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  crasher:
    command: ["sh", "-c", "date +%%s%%N >> %s; exit 1"]
    restart:
      backoff: {initial: 50ms, max: 10s, factor: 2, jitter: 0}
      limit: {burst: 4, window: 1m}
      cooldown: 0
`, starts))
	svc := s.waitFor("crasher", "failed", func(x api.Service) bool { return x.State == "failed" })
	lines := strings.Fields(readFile(t, starts))
	if len(lines) != 4 {
		t.Fatalf("started %d times, want exactly 4", len(lines))
	}
	if svc.Restarts != 3 || svc.ExitCode == nil || *svc.ExitCode != 1 || !strings.Contains(svc.Error, "start limit") {
		t.Errorf("failed row: %+v", svc)
	}
	// Each gap is at least the backoff delay, which doubles: 50ms, 100ms, 200ms.
	var prev int64
	for i, l := range lines {
		ns, err := strconv.ParseInt(l, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			gap := time.Duration(ns - prev)
			min := 50 * time.Millisecond << (i - 1)
			if gap < min {
				t.Errorf("gap %d = %v, want at least %v", i, gap, min)
			}
		}
		prev = ns
	}
	// And it stays failed: no fifth start.
	if got := s.service("crasher"); got.State != "failed" || countLines(t, starts) != 4 {
		t.Errorf("after failing: %+v, %d starts", got, countLines(t, starts))
	}
}

func TestMissingBinaryFailsAtOnce(t *testing.T) {
	t.Parallel()
	s := startSup(t, `
version: 1
services:
  ghost:
    command: ./does-not-exist --flag
`)
	svc := s.waitFor("ghost", "failed", func(x api.Service) bool { return x.State == "failed" })
	if !strings.Contains(svc.Error, "no such file or directory") || svc.Restarts != 0 || svc.Pid != 0 {
		t.Errorf("row: %+v", svc)
	}
	_, stderr, code := s.run("start", "ghost")
	if code != 1 || !strings.Contains(stderr, "no such file or directory") {
		t.Errorf("start ghost: exit %d, stderr %q", code, stderr)
	}
	// The state is said once: "ghost: failed: <why>".
	if !strings.HasPrefix(stderr, "ghost: failed: ") || strings.Contains(stderr, "failed: failed:") {
		t.Errorf("start ghost: stderr %q, want one \"ghost: failed: <reason>\"", stderr)
	}
}

func TestRestartGivesNewPidAndOldIsGone(t *testing.T) {
	t.Parallel()
	m := marker(t)
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  sleeper:
    command: sleep %s
`, m))
	before := s.waitFor("sleeper", "running", func(x api.Service) bool { return x.State == "running" })
	out, stderr, code := s.run("restart", "sleeper")
	if code != 0 {
		t.Fatalf("restart: exit %d: %s", code, stderr)
	}
	after := s.service("sleeper")
	if after.State != "running" || after.Pid == 0 || after.Pid == before.Pid {
		t.Fatalf("after restart: %+v (before pid %d)", after, before.Pid)
	}
	if !strings.Contains(out, fmt.Sprintf("pid %d", after.Pid)) {
		t.Errorf("restart output %q does not name the new pid", out)
	}
	if alive(before.Pid) {
		t.Errorf("old pid %d still alive", before.Pid)
	}
	if pids := procsWith("sleep " + m); len(pids) != 1 || pids[0] != after.Pid {
		t.Errorf("sleepers alive: %v, want only %d", pids, after.Pid)
	}
}

func TestDownLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	m := marker(t)
	s := startSup(t, fmt.Sprintf(`
version: 1
defaults:
  stop: {timeout: 500ms}
services:
  stubborn:
    command: ["sh", "-c", "trap '' TERM; sleep 1%[1]s; true"]
  forker:
    command: ["sh", "-c", "sleep 2%[1]s & sleep 3%[1]s & wait"]
  escaper:
    command: ["sh", "-c", "setsid sleep 4%[1]s & wait"]
`, m))
	for _, n := range []string{"stubborn", "forker", "escaper"} {
		s.waitFor(n, "running", func(x api.Service) bool { return x.State == "running" })
	}
	waitCount(t, "sleep 1"+m, 1)
	waitCount(t, "sleep 2"+m, 1)
	waitCount(t, "sleep 3"+m, 1)
	waitCount(t, "sleep 4"+m, 1)
	containment := s.status().Supervisor.Containment
	out, stderr, code := s.run("down")
	if code != 0 || !strings.Contains(out, "stopped") {
		t.Fatalf("down: exit %d %q %q", code, out, stderr)
	}
	s.waitExit()
	for _, p := range []string{"1", "2", "3"} {
		if pids := procsWith("sleep " + p + m); len(pids) > 0 {
			t.Errorf("sleep %s%s survived down: %v", p, m, pids)
		}
	}
	// A descendant that left the process group: caught by the cgroup, or
	// tracked in process-group containment.
	if pids := procsWith("sleep 4" + m); len(pids) > 0 {
		t.Errorf("setsid escaper survived down with %s containment: %v", containment, pids)
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if _, _, code := s.run("status"); code != 3 {
		t.Errorf("status after down: exit %d, want 3", code)
	}
}

func TestSigtermStopsEverything(t *testing.T) {
	t.Parallel()
	m := marker(t)
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  a: {command: sleep 5%[1]s}
  b: {command: sleep 6%[1]s}
`, m))
	waitCount(t, "sleep 5"+m, 1)
	waitCount(t, "sleep 6"+m, 1)
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.waitExit()
	waitNone(t, "sleep 5"+m)
	waitNone(t, "sleep 6"+m)
	if log := s.stderr.String(); !strings.Contains(log, "supervisor stopped") {
		t.Errorf("log lacks the stop record:\n%s", log)
	}
}

func TestSecondUpSaysAlreadyRunning(t *testing.T) {
	t.Parallel()
	s := startSup(t, "version: 1\nservices: {}\n")
	_, stderr, code := s.run("up")
	pid := s.status().Supervisor.Pid
	if code != 3 || !strings.Contains(stderr, fmt.Sprintf("already running (pid %d)", pid)) {
		t.Errorf("second up: exit %d, stderr %q", code, stderr)
	}
}

func TestStatusStartStopAndErrors(t *testing.T) {
	t.Parallel()
	m := marker(t)
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  web:
    command: ["sh", "-c", "echo hello from web; echo oops >&2; exec sleep 7%[1]s"]
  idle:
    command: sleep 8%[1]s
    autostart: false
`, m))
	s.waitFor("web", "running", func(x api.Service) bool { return x.State == "running" })
	if got := s.service("idle"); got.State != "stopped" || got.Pid != 0 {
		t.Errorf("idle: %+v", got)
	}
	st := s.status()
	if st.Supervisor.Pid == 0 || st.Supervisor.CorePid == 0 || st.Supervisor.Config != s.config || st.Supervisor.StartedAt.IsZero() {
		t.Errorf("supervisor block: %+v", st.Supervisor)
	}
	if st.Services[0].Containment == "" || st.Services[0].Health == "" {
		t.Errorf("row lacks containment/health: %+v", st.Services[0])
	}
	table, _, code := s.run("status")
	if code != 0 || !strings.Contains(table, "NAME") || !strings.Contains(table, "web") || !strings.Contains(table, "running") {
		t.Errorf("status table (exit %d):\n%s", code, table)
	}
	// A header names the config and the supervisor; without a probe the
	// health is "-"; piped, nothing is coloured.
	header := fmt.Sprintf("%s: supervisor pid %d, up ", s.config, st.Supervisor.Pid)
	if !strings.HasPrefix(table, header) || !strings.Contains(strings.SplitN(table, "\n", 2)[0], ", core restarts 0") {
		t.Errorf("status header: want %q..., got:\n%s", header, table)
	}
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 5 && f[0] == "web" && (f[1] != "running" || f[5] != "-") {
			t.Errorf("web's row %q: want state running and health -", line)
		}
	}
	if strings.Contains(table, "\x1b[") {
		t.Errorf("status piped is coloured:\n%q", table)
	}
	// status NAME answers like systemctl is-active.
	if _, _, code := s.run("status", "web"); code != 0 {
		t.Errorf("status web (running): exit %d, want 0", code)
	}
	if _, stderr, code := s.run("status", "idle"); code != 1 || !strings.Contains(stderr, "idle is stopped") {
		t.Errorf("status idle (stopped): exit %d %q, want 1 naming it", code, stderr)
	}
	if _, _, code := s.run("start", "idle"); code != 0 {
		t.Errorf("start idle: exit %d", code)
	}
	if got := s.service("idle"); got.State != "running" || got.Pid == 0 {
		t.Errorf("idle after start: %+v", got)
	}
	if _, _, code := s.run("stop", "all"); code != 0 {
		t.Errorf("stop all: exit %d", code)
	}
	for _, svc := range s.status().Services {
		if svc.State != "stopped" || svc.Pid != 0 {
			t.Errorf("after stop all: %+v", svc)
		}
	}
	waitNone(t, "sleep 7"+m)
	waitNone(t, "sleep 8"+m)
	_, stderr, code := s.run("start", "nope")
	if code != 2 || !strings.Contains(stderr, "unknown service: nope") {
		t.Errorf("start nope: exit %d %q", code, stderr)
	}
	if _, stderr, code := s.run("stop", "wbe"); code != 2 || !strings.Contains(stderr, `unknown service: wbe (did you mean "web"?)`) {
		t.Errorf("stop wbe: exit %d %q, want a did-you-mean", code, stderr)
	}
	_, _, code = s.run("status", "-o", "yaml")
	if code != 2 {
		t.Errorf("status -o yaml: exit %d, want 2", code)
	}
	// Output was captured, both streams, whole lines.
	log := readFile(t, filepath.Join(s.dir, ".respawn", "logs", "web.log"))
	if !strings.Contains(log, " out hello from web\n") || !strings.Contains(log, " err oops\n") {
		t.Errorf("web.log:\n%s", log)
	}
}

func TestCheckReportsErrorsWithPositions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yaml")
	os.WriteFile(path, []byte("version: 1\nservices:\n  web:\n    comand: x\n  api:\n    command: y\n    restart: {policy: sometimes}\n"), 0o644)
	_, stderr, code := runRespawn(dir, "check", "-c", path)
	if code != 2 {
		t.Fatalf("check: exit %d, want 2; %s", code, stderr)
	}
	for _, want := range []string{path + ":4:5:", path + ":7:23:"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("check output lacks %q:\n%s", want, stderr)
		}
	}
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("version: 1\nservices:\n  b: {command: x}\n  a: {command: y}\n"), 0o644)
	out, stderr, code := runRespawn(dir, "check", "-c", good)
	if code != 0 || !strings.Contains(out, "start order: b, a") {
		t.Errorf("check good: exit %d %q %q", code, out, stderr)
	}
	// The config is also found through $RESPAWN_CONFIG and ./respawn.yaml.
	os.WriteFile(filepath.Join(dir, "respawn.yaml"), []byte("version: 1\nservices: {x: {command: z}}\n"), 0o644)
	if out, _, code := runRespawn(dir, "check"); code != 0 || !strings.Contains(out, "1 services") {
		t.Errorf("check ./respawn.yaml: exit %d %q", code, out)
	}
}

// check looks for what the config names on this host: warnings by default
// (they may exist by run time), errors with --strict.
func TestCheckWarnsOfWhatIsMissing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "r.yaml")
	os.WriteFile(path, []byte("version: 1\nservices:\n  web:\n    command: no-such-program-x\n  ok:\n    command: sh -c true\n    cwd: missing-dir\n"), 0o644)
	out, stderr, code := runRespawn(dir, "check", "-c", path)
	if code != 0 || !strings.Contains(out, "valid, 2 warnings") {
		t.Fatalf("check: exit %d, %q; want 0 and 2 warnings", code, out)
	}
	for _, want := range []string{
		path + `:4:14: warning: services.web: command: "no-such-program-x" is not found on PATH`,
		path + ":7:10: warning: services.ok: cwd: " + filepath.Join(dir, "missing-dir") + " does not exist",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("check output lacks %q:\n%s", want, stderr)
		}
	}
	_, stderr, code = runRespawn(dir, "check", "--strict", "-c", path)
	if code != 2 || strings.Contains(stderr, "warning:") || !strings.Contains(stderr, path+":4:14: services.web") {
		t.Errorf("check --strict: exit %d, want 2 with the problems as errors:\n%s", code, stderr)
	}
}

func TestCommandsWithoutSupervisor(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "respawn.yaml"), []byte("version: 1\nservices: {x: {command: z}}\n"), 0o644)
	for _, args := range [][]string{{"status"}, {"down"}, {"start", "x"}} {
		_, stderr, code := runRespawn(dir, args...)
		if code != 3 || !strings.Contains(stderr, "not running") {
			t.Errorf("%v: exit %d %q", args, code, stderr)
		}
	}
	out, _, code := runRespawn(dir, "version")
	if code != 0 || !strings.HasPrefix(out, "respawn ") {
		t.Errorf("version: exit %d %q", code, out)
	}
	if _, _, code := runRespawn(dir, "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitCount waits until exactly n processes carry marker.
func waitCount(t *testing.T, marker string, n int) {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		if len(procsWith(marker)) == n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("want %d processes with %q, have %v", n, marker, procsWith(marker))
}

func TestBundledExamplesAreValid(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		abs, _ := filepath.Abs(f)
		if out, stderr, code := runRespawn(t.TempDir(), "check", "-c", abs); code != 0 {
			t.Errorf("%s: exit %d\n%s%s", f, code, out, stderr)
		}
	}
}

// environOf returns the environment of process pid once it runs cmd (its
// command line, as procsWith compares it). A process reported as started may
// still be inside execve, where /proc/PID/environ reads empty, or be a shell
// that has yet to exec cmd.
func environOf(t *testing.T, pid int, cmd string) string {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			t.Fatalf("process %d: %v", pid, err)
		}
		if got := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")); got == cmd {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("process %d runs %q after %s, want %q", pid, b, deadline, cmd)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The command line and the environment are set together, at the end of the exec.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	return "\x00" + string(b)
}

// A foreground up shows every service's lines, prefixed with its name; its
// own info lines wait for --verbose.
func TestForegroundUpShowsTheServices(t *testing.T) {
	t.Parallel()
	m := marker(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "respawn.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`version: 1
services:
  web:
    command: ["sh", "-c", "echo web says hello-%[1]s; echo web warns-%[1]s >&2; exec sleep 61%[1]s"]
  worker-long-name:
    command: ["sh", "-c", "for i in 1 2 3; do echo job $i-%[1]s; done; exec sleep 62%[1]s"]
  crasher:
    command: ["sh", "-c", "exit 3"]
    restart: {policy: on-failure, backoff: {initial: 30s}}
`, m)), 0o644)
	cmd := exec.Command(bin, "up", "-c", path)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	}()
	want := []string{
		"web              | web says hello-" + m,
		"web              ! web warns-" + m,
		"worker-long-name | job 1-" + m,
		"worker-long-name | job 3-" + m,
	}
	// The supervisor's warning, short and marked, on stderr: "respawn: WARN
	// crasher running → backoff: exit status 3, restart 1 in 30s" (the exit
	// may come before the run was seen running).
	wantErr := " → backoff: exit status 3, restart 1 in "
	end := time.Now().Add(deadline)
	for {
		out := stdout.String()
		missing := ""
		for _, w := range want {
			if !strings.Contains(out, w+"\n") {
				missing = w
			}
		}
		if !slices.ContainsFunc(strings.Split(stderr.String(), "\n"), func(l string) bool {
			return strings.HasPrefix(l, "respawn: WARN crasher ") && strings.Contains(l, wantErr)
		}) {
			missing = "respawn: WARN crasher ..." + wantErr
		}
		if missing == "" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("foreground output lacks %q:\n%s\nstderr:\n%s", missing, out, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(stdout.String(), "\x1b[") {
		t.Error("output to a pipe is coloured")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("up after SIGTERM: %v\n%s", waitErr, stderr.String())
		}
	case <-time.After(deadline):
		t.Fatal("up did not exit after SIGTERM")
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if !strings.HasPrefix(line, "respawn: WARN ") && !strings.HasPrefix(line, "respawn: ERROR ") {
			t.Errorf("without --verbose, a line that is not a short warning or error: %q", line)
		}
	}
}

// A terminal that reads nothing never holds a service back: the log files
// keep every line, and up still stops. The terminal is a pseudo-terminal
// whose master nobody reads (its buffer fills after a few KiB), and, the
// same blocked writer without a terminal, a pipe nobody reads.
func TestForegroundUpWithATerminalThatDoesNotRead(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"pty", "pipe"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			var out, keep *os.File
			if kind == "pty" {
				out, keep = openPty(t)
			} else {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				out, keep = w, r
			}
			defer keep.Close()
			foregroundWithStuckOutput(t, out)
		})
	}
}

// foregroundWithStuckOutput runs a foreground up writing to out, which
// nobody reads, and checks the service and its log go on.
func foregroundWithStuckOutput(t *testing.T, out *os.File) {
	m := marker(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "respawn.yaml")
	const lines = 200000
	os.WriteFile(path, []byte(fmt.Sprintf(`version: 1
services:
  chatty:
    command: ["sh", "-c", "seq 1 %d; exec sleep 63%s"]
`, lines, m)), 0o644)
	cmd := exec.Command(bin, "up", "-c", path)
	cmd.Stdout = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	}()
	logPath := filepath.Join(dir, ".respawn", "logs", "chatty.log")
	waitUntil(t, "every line in the log file", func() bool {
		b, _ := os.ReadFile(logPath)
		return bytes.Count(b, []byte("\n")) >= lines
	})
	waitCount(t, "sleep 63"+m, 1) // the service went on past its output
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(deadline):
		t.Fatal("up did not exit after SIGTERM with a terminal that reads nothing")
	}
	waitNone(t, "sleep 63"+m)
}
