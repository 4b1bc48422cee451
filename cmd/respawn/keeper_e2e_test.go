//go:build linux

package main

import (
	"bufio"
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
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// counterConfig runs a service that prints a numbered line every 10 ms, and
// one that just sleeps. Its core timeout is short, so that a hang is caught
// soon, but leaves room for a -race core on a loaded machine to start (it
// must be ready within one timeout) and to answer pings: a core declared hung
// is one more core restart than the tests count.
func counterConfig(mark string) string {
	return fmt.Sprintf(`version: 1
supervisor:
  core_timeout: 5s
services:
  counter:
    command: ["sh", "-c", "i=0; while :; do echo $i; i=$((i+1)); sleep 0.01; done"]
  sleeper:
    command: ["sleep", "%s"]
`, mark)
}

// numbers returns the numbers the counter printed, in log order.
func numbers(t *testing.T, path string) []int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "<time> out <text>"
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 || fields[1] != "out" {
			t.Fatalf("unexpected log line %q", sc.Text())
		}
		n, err := strconv.Atoi(fields[2])
		if err != nil {
			t.Fatalf("unexpected log line %q", sc.Text())
		}
		out = append(out, n)
	}
	return out
}

// checkSequence fails unless nums is 0..N, each exactly once, in order.
func checkSequence(t *testing.T, nums []int) {
	t.Helper()
	for i, n := range nums {
		if n != i {
			t.Fatalf("line %d of the log is %d, want %d (lost or duplicated output); around it: %v", i, n, i, nums[max(0, i-3):min(len(nums), i+3)])
		}
	}
}

// pids maps service names to their pid and restart count.
func pids(st api.Status) map[string][2]int {
	m := map[string][2]int{}
	for _, s := range st.Services {
		m[s.Name] = [2]int{s.Pid, s.Restarts}
	}
	return m
}

// waitNewCore polls until a core other than old answers, and returns how long that took.
func (s *sup) waitNewCore(old int) (api.Status, time.Duration) {
	s.t.Helper()
	start := time.Now()
	end := start.Add(deadline)
	for time.Now().Before(end) {
		if out, _, code := s.run("status", "-o", "json"); code == 0 {
			var st api.Status
			if err := json.Unmarshal([]byte(out), &st); err == nil && st.Supervisor.CorePid != old && st.Supervisor.CorePid != 0 {
				return st, time.Since(start)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("no new core answered after %s\n%s", deadline, s.stderr.String())
	return api.Status{}, 0
}

// waitLines waits until the counter's log holds at least n more lines than from.
func waitLines(t *testing.T, path string, from, n int) int {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		if c := countLines(t, path); c >= from+n {
			return c
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s stopped growing at %d lines", path, countLines(t, path))
	return 0
}

func supervisorEvents(t *testing.T, dir string) []api.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ".respawn", "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []api.Event
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev api.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		if ev.Type == api.EventSupervisor {
			out = append(out, ev)
		}
	}
	return out
}

func TestCoreKilled20TimesServicesUntouched(t *testing.T) {
	mark := marker(t)
	s := startSup(t, counterConfig(mark))
	first := s.waitFor("counter", "running", func(v api.Service) bool { return v.State == "running" })
	s.waitFor("sleeper", "running", func(v api.Service) bool { return v.State == "running" })
	st := s.status()
	keeperPid, before := st.Supervisor.Pid, pids(st)
	if keeperPid != s.cmd.Process.Pid {
		t.Fatalf("supervisor.pid %d is not the pid of `respawn up` (%d)", keeperPid, s.cmd.Process.Pid)
	}
	if st.Supervisor.CorePid == keeperPid || st.Supervisor.CorePid == 0 {
		t.Fatalf("core_pid %d: want a process of its own", st.Supervisor.CorePid)
	}
	logPath := filepath.Join(s.dir, ".respawn", "logs", "counter.log")
	lines := waitLines(t, logPath, 0, 5)

	// A new core answers within a few hundred ms on an idle machine (the
	// figure is logged below); the bound only proves that none hung, with
	// room for -race on a loaded machine.
	const limit = 5 * time.Second
	var slowest time.Duration
	const kills = 20
	for i := range kills {
		core := st.Supervisor.CorePid
		if err := syscall.Kill(core, syscall.SIGKILL); err != nil {
			t.Fatalf("kill core %d: %v", core, err)
		}
		var took time.Duration
		st, took = s.waitNewCore(core)
		slowest = max(slowest, took)
		if took > limit {
			t.Errorf("kill %d: status answered again after %s, want within %s", i+1, took, limit)
		}
		if got := pids(st); fmt.Sprint(got) != fmt.Sprint(before) {
			t.Fatalf("kill %d: services changed: %v, want %v", i+1, got, before)
		}
		if st.Supervisor.Pid != keeperPid || st.Supervisor.CoreRestarts != i+1 {
			t.Fatalf("kill %d: supervisor %+v", i+1, st.Supervisor)
		}
		lines = waitLines(t, logPath, lines, 3) // the counter keeps printing
	}
	t.Logf("slowest core comeback: %s", slowest)

	if _, errs, code := s.run("down"); code != 0 {
		t.Fatalf("down: %d %s", code, errs)
	}
	s.waitExit()
	nums := numbers(t, logPath)
	checkSequence(t, nums)
	if len(nums) < 5+3*kills {
		t.Fatalf("only %d lines logged", len(nums))
	}
	crashes := 0
	for _, ev := range supervisorEvents(t, s.dir) {
		if strings.HasPrefix(ev.Reason, "core crashed") {
			crashes++
		}
	}
	if crashes != kills {
		t.Errorf("events record %d core crashes, want %d", crashes, kills)
	}
	if alive(first.Pid) {
		t.Errorf("counter (pid %d) survived down", first.Pid)
	}
}

func TestHungCoreIsRestarted(t *testing.T) {
	mark := marker(t)
	s := startSup(t, counterConfig(mark))
	s.waitFor("sleeper", "running", func(v api.Service) bool { return v.State == "running" })
	st := s.status()
	sleeper := s.service("sleeper").Pid
	core := st.Supervisor.CorePid
	// A stopped core answers nothing: its loop is as good as wedged.
	if err := syscall.Kill(core, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	st, took := s.waitNewCore(core)
	t.Logf("hung core replaced after %s", took)
	if got := s.service("sleeper").Pid; got != sleeper {
		t.Fatalf("sleeper pid %d, want %d", got, sleeper)
	}
	found := false
	for _, ev := range supervisorEvents(t, s.dir) {
		if strings.HasPrefix(ev.Reason, "core hung") {
			found = true
			// SIGABRT made the runtime dump its goroutines into the crash output.
			if !strings.Contains(ev.Message, "goroutine") {
				t.Errorf("hung core event without the goroutine dump: %q", ev.Message)
			}
		}
	}
	if !found {
		t.Errorf("no 'core hung' event")
	}
	// The whole dump stays in the crash log once the next core runs.
	if b := readFile(t, filepath.Join(s.dir, ".respawn", "core-crash.log")); !strings.Contains(b, "SIGABRT") || !strings.Contains(b, "goroutine ") {
		t.Errorf("core-crash.log lacks the hung core's dump (%d bytes)", len(b))
	}
	if alive(core) {
		t.Errorf("hung core %d still alive", core)
	}
}

func TestUpgradeKeepsPidsAndRollsBack(t *testing.T) {
	mark := marker(t)
	s := startSup(t, counterConfig(mark))
	s.waitFor("counter", "running", func(v api.Service) bool { return v.State == "running" })
	s.waitFor("sleeper", "running", func(v api.Service) bool { return v.State == "running" })
	st := s.status()
	keeperPid, before := st.Supervisor.Pid, pids(st)
	logPath := filepath.Join(s.dir, ".respawn", "logs", "counter.log")
	lines := waitLines(t, logPath, 0, 5)

	// In place, same binary.
	out, errs, code := s.run("upgrade")
	if code != 0 {
		t.Fatalf("upgrade: exit %d\n%s%s\n%s", code, out, errs, s.stderr.String())
	}
	st = s.status()
	if st.Supervisor.Pid != keeperPid || fmt.Sprint(pids(st)) != fmt.Sprint(before) {
		t.Fatalf("after upgrade: supervisor %+v services %v, want keeper %d services %v", st.Supervisor, pids(st), keeperPid, before)
	}
	if u := st.Supervisor.LastUpgrade; u == nil || u.Error != "" {
		t.Fatalf("last_upgrade %+v", u)
	}
	lines = waitLines(t, logPath, lines, 5)

	// A binary that cannot even pass the check changes nothing.
	broken := filepath.Join(s.dir, "broken")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho nope >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	core := st.Supervisor.CorePid
	_, errs, code = s.run("upgrade", "--binary", broken)
	if code == 0 || !strings.Contains(errs, "failed its check") {
		t.Fatalf("broken upgrade: exit %d, stderr %q", code, errs)
	}
	st = s.status()
	if st.Supervisor.Pid != keeperPid || st.Supervisor.CorePid != core || fmt.Sprint(pids(st)) != fmt.Sprint(before) {
		t.Fatalf("after refused upgrade: %+v %v", st.Supervisor, pids(st))
	}

	// A binary that passes the check but whose core cannot run is rolled back.
	badCore := filepath.Join(s.dir, "badcore")
	script := fmt.Sprintf("#!/bin/sh\ncase \"$1\" in __core) echo core refuses >&2; exit 7;; esac\nexec %s \"$@\"\n", bin)
	if err := os.WriteFile(badCore, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, errs, code = s.run("upgrade", "--binary", badCore)
	if code == 0 || !strings.Contains(errs, "rolled back") {
		t.Fatalf("bad-core upgrade: exit %d, stderr %q\n%s", code, errs, s.stderr.String())
	}
	st = s.status()
	if st.Supervisor.Pid != keeperPid || fmt.Sprint(pids(st)) != fmt.Sprint(before) {
		t.Fatalf("after rollback: %+v %v", st.Supervisor, pids(st))
	}
	if st.Supervisor.LastUpgrade == nil || st.Supervisor.LastUpgrade.Active == badCore {
		t.Fatalf("after rollback the keeper runs %+v", st.Supervisor.LastUpgrade)
	}
	// What the failed core said reached the log before the rollback's exec.
	if !strings.Contains(s.stderr.String(), "core refuses") {
		t.Errorf("the supervisor log lacks the failed core's last words:\n%s", s.stderr.String())
	}
	lines = waitLines(t, logPath, lines, 5)

	if _, errs, code := s.run("down"); code != 0 {
		t.Fatalf("down: %d %s", code, errs)
	}
	s.waitExit()
	checkSequence(t, numbers(t, logPath))
}

func TestKeeperKilledTakesServicesAndNextUpCleans(t *testing.T) {
	mark := marker(t)
	config := fmt.Sprintf(`version: 1
services:
  direct:
    command: ["sleep", "%[1]s1"]
  tree:
    command: ["sh", "-c", "sleep %[1]s2 & exec sleep %[1]s3"]
`, mark)
	s := startSup(t, config)
	s.waitFor("direct", "running", func(v api.Service) bool { return v.State == "running" })
	s.waitFor("tree", "running", func(v api.Service) bool { return v.State == "running" })
	waitSome(t, "sleep "+mark+"2")
	core := s.status().Supervisor.CorePid
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.exited
	// The keeper's children die with it (the services, by their parent-death
	// signal); the core, told by its own, kills what they started.
	waitNone(t, "sleep "+mark+"1")
	if left := procsWith("sleep " + mark + "2"); len(left) > 0 {
		defer func() {
			if t.Failed() {
				cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", left[0]))
				st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", left[0]))
				t.Logf("survivor %d: cgroup %q stat %q; core %d alive %v", left[0], cg, st, core, alive(core))
			}
		}()
	}
	waitNone(t, "sleep "+mark+"2")
	waitNone(t, "sleep "+mark+"3")
	waitGonePid(t, core)

	// The next up starts each service exactly once.
	s2 := &sup{t: t, dir: s.dir, config: s.config, stderr: &syncBuffer{}, exited: make(chan struct{})}
	s2.start()
	s2.waitFor("direct", "running", func(v api.Service) bool { return v.State == "running" })
	s2.waitFor("tree", "running", func(v api.Service) bool { return v.State == "running" })
	waitSome(t, "sleep "+mark+"2")
	for _, c := range []string{"1", "2", "3"} {
		if n := len(procsWith("sleep " + mark + c)); n != 1 {
			t.Errorf("sleep %s%s runs %d times, want once", mark, c, n)
		}
	}
}

// A leftover the keeper recorded (here: a process that survived because the
// core could not clean up, simulated by stopping the core first) is killed by
// the next up before it starts anything.
func TestNextUpKillsRecordedLeftovers(t *testing.T) {
	mark := marker(t)
	config := fmt.Sprintf(`version: 1
services:
  tree:
    command: ["sh", "-c", "sleep %[1]s2 & exec sleep %[1]s3"]
`, mark)
	s := startSup(t, config)
	s.waitFor("tree", "running", func(v api.Service) bool { return v.State == "running" })
	waitSome(t, "sleep "+mark+"2")
	core := s.status().Supervisor.CorePid
	// Both die without a chance to clean up, so the grandchild survives
	// them: the core is killed while the keeper is stopped (it cannot start
	// another), then the keeper. (A stopped core would not do: once the
	// keeper dies, the kernel continues a stopped process whose group has
	// just been orphaned, and the core acts on the keeper's death.)
	keeper := s.cmd.Process.Pid
	if err := syscall.Kill(keeper, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// The stop takes effect when the keeper's threads next run.
	waitStopped(t, keeper)
	if err := syscall.Kill(core, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDead(t, core)
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.exited
	waitGonePid(t, core)
	if posixRun() {
		// No parent-death signal: the service survives as its child does,
		// and the next up kills both by the records.
		leftover := append(procsWith("sleep "+mark+"3"), procsWith("sleep "+mark+"2")...)
		if len(leftover) != 2 {
			t.Fatalf("service and its child: %v, want both to survive", leftover)
		}
		s2 := &sup{t: t, dir: s.dir, config: s.config, stderr: &syncBuffer{}, exited: make(chan struct{})}
		s2.start()
		s2.waitFor("tree", "running", func(v api.Service) bool { return v.State == "running" })
		waitGonePid(t, leftover[0])
		waitGonePid(t, leftover[1])
		waitOne(t, "sleep "+mark+"2")
		waitOne(t, "sleep "+mark+"3")
		return
	}
	waitNone(t, "sleep "+mark+"3")
	leftover := procsWith("sleep " + mark + "2")
	if len(leftover) != 1 {
		t.Fatalf("grandchild: %v, want one survivor", leftover)
	}
	s2 := &sup{t: t, dir: s.dir, config: s.config, stderr: &syncBuffer{}, exited: make(chan struct{})}
	s2.start()
	s2.waitFor("tree", "running", func(v api.Service) bool { return v.State == "running" })
	waitGonePid(t, leftover[0])
	waitOne(t, "sleep "+mark+"2")
	waitOne(t, "sleep "+mark+"3")
}

// waitStopped waits until every thread of pid is stopped by a signal.
// waitDead waits until pid has exited (a zombie its stopped parent has not
// reaped counts).
func waitDead(t *testing.T, pid int) {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("pid %d did not die", pid)
}

func waitStopped(t *testing.T, pid int) {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		if allThreadsStopped(pid) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("pid %d did not stop", pid)
}

func allThreadsStopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			return false
		}
		// The state follows the command's closing parenthesis.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			return false
		}
	}
	return true
}

// waitSome waits until a process with the exact command line runs.
func waitSome(t *testing.T, cmd string) {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		if len(procsWith(cmd)) > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%q never ran", cmd)
}

// waitOne waits until exactly one process runs cmd (a leftover is being killed).
func waitOne(t *testing.T, cmd string) {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		if len(procsWith(cmd)) == 1 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%q runs %d times, want once", cmd, len(procsWith(cmd)))
}

func waitGonePid(t *testing.T, pid int) {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		if !alive(pid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("pid %d still alive", pid)
}

// A core that dies of a fatal error leaves its crash output in the journal,
// as a supervisor event; its services are untouched.
func TestCoreCrashOutputInEvents(t *testing.T) {
	mark := marker(t)
	s := startSup(t, counterConfig(mark))
	sleeper := s.waitFor("sleeper", "running", func(v api.Service) bool { return v.State == "running" })
	core := s.status().Supervisor.CorePid
	// SIGQUIT makes the Go runtime print every goroutine and exit 2, as a
	// fatal error would.
	if err := syscall.Kill(core, syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	s.waitNewCore(core)
	if got := s.service("sleeper"); got.Pid != sleeper.Pid || got.Restarts != 0 {
		t.Fatalf("sleeper %+v, want pid %d and no restart", got, sleeper.Pid)
	}
	for _, ev := range supervisorEvents(t, s.dir) {
		if ev.Reason == "core crashed: exit status 2" {
			if !strings.Contains(ev.Message, "SIGQUIT") || !strings.Contains(ev.Message, "goroutine") {
				t.Errorf("crash event without the crash output: %q", ev.Message)
			}
			return
		}
	}
	t.Errorf("no 'core crashed: exit status 2' event")
}

// What a person asked (a service stopped) and what the policy counted (a
// restart) outlive the core that knew them.
func TestCoreRestartKeepsWantedStateAndCounters(t *testing.T) {
	mark := marker(t)
	s := startSup(t, fmt.Sprintf(`version: 1
services:
  flaky:
    command: ["sleep", "%[1]s1"]
  parked:
    command: ["sleep", "%[1]s2"]
`, mark))
	first := s.waitFor("flaky", "running", func(v api.Service) bool { return v.State == "running" })
	s.waitFor("parked", "running", func(v api.Service) bool { return v.State == "running" })
	if _, errs, code := s.run("stop", "parked"); code != 0 {
		t.Fatalf("stop parked: %d %s", code, errs)
	}
	if err := syscall.Kill(first.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	flaky := s.waitFor("flaky", "respawned", func(v api.Service) bool {
		return v.State == "running" && v.Pid != first.Pid && v.Restarts == 1
	})
	core := s.status().Supervisor.CorePid
	if err := syscall.Kill(core, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st, _ := s.waitNewCore(core)
	for _, v := range st.Services {
		switch v.Name {
		case "flaky":
			if v.Pid != flaky.Pid || v.Restarts != 1 || v.State != "running" {
				t.Errorf("flaky after the core restart: %+v, want pid %d, 1 restart", v, flaky.Pid)
			}
		case "parked":
			if v.State != "stopped" || v.Pid != 0 {
				t.Errorf("parked after the core restart: %+v, want stopped", v)
			}
		}
	}
	if n := len(procsWith("sleep " + mark + "2")); n != 0 {
		t.Errorf("the stopped service runs again (%d processes)", n)
	}
}

// A run that lives through an upgrade still feeds its exit record: the lines
// it prints afterwards are its last lines in `why`.
func TestUpgradeKeepsRunOutputForWhy(t *testing.T) {
	mark := marker(t)
	s := startSup(t, fmt.Sprintf(`version: 1
services:
  talker:
    command: ["sh", "-c", "trap 'echo said-%[1]s' USR1; while :; do sleep 0.05; done"]
`, mark))
	first := s.waitFor("talker", "running", func(v api.Service) bool { return v.State == "running" })
	if out, errs, code := s.run("upgrade"); code != 0 {
		t.Fatalf("upgrade: exit %d\n%s%s", code, out, errs)
	}
	if _, errs, code := s.run("signal", "USR1", "talker"); code != 0 {
		t.Fatalf("signal: %d %s", code, errs)
	}
	logPath := filepath.Join(s.dir, ".respawn", "logs", "talker.log")
	waitLines(t, logPath, 0, 1)
	if err := syscall.Kill(first.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		out, _, code := s.run("why", "talker", "-o", "json")
		var why api.Why
		if code == 0 && json.Unmarshal([]byte(out), &why) == nil {
			for _, ex := range why.Exits {
				if ex.Pid != first.Pid {
					continue
				}
				for _, l := range ex.LastLines {
					if l.Line == "said-"+mark {
						return
					}
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, _, _ := s.run("why", "talker", "-o", "json")
	t.Fatalf("the run's exit record lacks the line it printed after the upgrade:\n%s", out)
}

// A service's history (restarts, start time, last exit) outlives any number
// of core restarts, not only the first.
func TestServiceHistorySurvivesRepeatedCoreRestarts(t *testing.T) {
	mark := marker(t)
	s := startSup(t, fmt.Sprintf(`version: 1
services:
  flaky:
    command: ["sleep", "%[1]s1"]
`, mark))
	first := s.waitFor("flaky", "running", func(v api.Service) bool { return v.State == "running" })
	if err := syscall.Kill(first.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	want := s.waitFor("flaky", "respawned", func(v api.Service) bool {
		return v.State == "running" && v.Pid != first.Pid && v.Restarts == 1
	})
	if want.StartedAt == nil || want.ExitSignal != "SIGKILL" {
		t.Fatalf("before the core restarts: %+v", want)
	}
	for i := range 3 {
		core := s.status().Supervisor.CorePid
		if err := syscall.Kill(core, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		st, _ := s.waitNewCore(core)
		got := st.Services[0]
		if got.Pid != want.Pid || got.Restarts != 1 || got.StartedAt == nil || !got.StartedAt.Equal(*want.StartedAt) ||
			got.ExitSignal != "SIGKILL" || got.State != "running" {
			t.Fatalf("after core restart %d: %+v\nwant %+v", i+1, got, want)
		}
	}
}

// Commands issued the moment the core dies wait for the next one: the
// supervisor runs, only its core restarts.
func TestCommandsRightAfterCoreKillSucceed(t *testing.T) {
	mark := marker(t)
	s := startSup(t, fmt.Sprintf(`version: 1
services:
  a:
    command: ["sleep", "%[1]s1"]
  b:
    command: ["sleep", "%[1]s2"]
`, mark))
	s.waitFor("b", "running", func(v api.Service) bool { return v.State == "running" })
	for i := range 5 {
		core := s.status().Supervisor.CorePid
		if err := syscall.Kill(core, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"status"}, {"stop", "b"}, {"start", "b"}, {"why", "a"}} {
			start := time.Now()
			if out, errs, code := s.run(args...); code != 0 {
				t.Fatalf("round %d: %v right after the core was killed: exit %d\n%s%s", i, args, code, out, errs)
			}
			t.Logf("round %d: %v took %s", i, args, time.Since(start))
		}
	}
}

// A core that cannot start (its config went bad) is restarted with pauses;
// meanwhile the control socket answers at once that the core restarts, and
// exit 3 is kept for a supervisor that does not run.
func TestStatusSaysCoreRestartingWhileCoresFail(t *testing.T) {
	mark := marker(t)
	config := fmt.Sprintf(`version: 1
services:
  a:
    command: ["sleep", "%[1]s1"]
`, mark)
	s := startSup(t, config)
	first := s.waitFor("a", "running", func(v api.Service) bool { return v.State == "running" })
	st := s.status()
	if err := os.WriteFile(s.config, []byte("version: 1\nservices: {a: {command: 7}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(st.Supervisor.CorePid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Answers come from the keeper once the replacement cores fail.
	end := time.Now().Add(deadline)
	// A command waits at most 5 s for a core that is due; once the keeper
	// sees that the cores fail before they are ready, it says so at once.
	fastest := time.Duration(1 << 62)
	for said := 0; said < 3; {
		if time.Now().After(end) {
			t.Fatalf("status never said the core is restarting")
		}
		start := time.Now()
		out, errs, code := s.run("status")
		took := time.Since(start)
		if code == 0 || code == 3 {
			t.Fatalf("status while the core restarts: exit %d\n%s%s", code, out, errs)
		}
		if took > 7*time.Second {
			t.Fatalf("status took %s to answer while the core restarts", took)
		}
		t.Logf("status after %s: exit %d: %s", took, code, errs)
		if strings.Contains(errs, "core is restarting") && strings.Contains(errs, fmt.Sprint(st.Supervisor.Pid)) {
			said++
			fastest = min(fastest, took)
		}
	}
	if fastest > 2*time.Second {
		t.Errorf("status said the core restarts after %s at best, want at once", fastest)
	}
	// Fixed (in one step: a core may read it any time), the next core comes
	// up and finds the service as it was.
	tmp := s.config + ".new"
	if err := os.WriteFile(tmp, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, s.config); err != nil {
		t.Fatal(err)
	}
	st, _ = s.waitNewCore(0)
	if len(st.Services) != 1 || st.Services[0].Pid != first.Pid || st.Services[0].State != "running" {
		t.Errorf("after the core came back: %+v, want pid %d running", st.Services, first.Pid)
	}
}

// A binary that prints the protocol line without reading the handover it is
// given is refused, and nothing changes.
func TestUpgradeRefusesABinaryThatOnlyPrintsTheLine(t *testing.T) {
	mark := marker(t)
	s := startSup(t, counterConfig(mark))
	s.waitFor("sleeper", "running", func(v api.Service) bool { return v.State == "running" })
	before := s.status()
	fake := filepath.Join(s.dir, "fake")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'respawn keeper protocol 1'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, errs, code := s.run("upgrade", "--binary", fake)
	if code == 0 || !strings.Contains(errs, "does not read this keeper's handover") {
		t.Fatalf("upgrade to a fake: exit %d, stderr %q\n%s", code, errs, s.stderr.String())
	}
	after := s.status()
	if after.Supervisor.Pid != before.Supervisor.Pid || after.Supervisor.CorePid != before.Supervisor.CorePid ||
		fmt.Sprint(pids(after)) != fmt.Sprint(pids(before)) || after.Supervisor.LastUpgrade != nil {
		t.Fatalf("after a refused upgrade: %+v %v, before %+v %v", after.Supervisor, pids(after), before.Supervisor, pids(before))
	}
}

// A keeper that dies while `upgrade` waits for the new core is reported at
// once, not after the upgrade's own deadline.
func TestUpgradeReportsADeadKeeperAtOnce(t *testing.T) {
	mark := marker(t)
	s := startSup(t, fmt.Sprintf(`version: 1
services:
  sleeper:
    command: ["sleep", "%s"]
`, mark))
	s.waitFor("sleeper", "running", func(v api.Service) bool { return v.State == "running" })
	keeperPid := s.status().Supervisor.Pid
	// The new binary's core never comes up: the upgrade waits for it.
	slow := filepath.Join(s.dir, "slowcore")
	script := fmt.Sprintf("#!/bin/sh\ncase \"$1\" in __core) exec sleep 60%s;; esac\nexec %s \"$@\"\n", mark, bin)
	if err := os.WriteFile(slow, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "upgrade", "--binary", slow, "-c", s.config)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	// Once the keeper runs the new image and its core is the sleeper, kill it.
	end := time.Now().Add(deadline)
	for len(procsWith("sleep 60"+mark)) == 0 {
		select {
		case <-done:
			t.Fatalf("upgrade ended early: exit %d\n%s%s\n%s", cmd.ProcessState.ExitCode(), out.String(), errb.String(), s.stderr.String())
		default:
		}
		if time.Now().After(end) {
			t.Fatalf("the new core never started\n%s", s.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := syscall.Kill(keeperPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	select {
	case <-done:
	case <-time.After(deadline):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("upgrade still waiting %s after the keeper died", deadline)
	}
	took := time.Since(killed)
	t.Logf("upgrade reported the dead keeper %s after it was killed", took)
	if took > 2*time.Second {
		t.Errorf("upgrade reported the dead keeper after %s, want within 2s", took)
	}
	if code := cmd.ProcessState.ExitCode(); code != 3 || !strings.Contains(errb.String(), "died during the upgrade") {
		t.Errorf("upgrade after the keeper died: exit %d, stderr %q", code, errb.String())
	}
	if posixRun() {
		// No parent-death signal and no core to act on the keeper's death
		// (the stand-in core is a sleep): the service and that sleep are
		// left to the next up, which kills them by the records.
		for _, m := range []string{"sleep 60" + mark, "sleep " + mark} {
			for _, pid := range procsWith(m) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	waitNone(t, "sleep 60"+mark)
}
