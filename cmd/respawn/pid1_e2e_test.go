//go:build linux

package main

import (
	"bytes"
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

// TestPID1ReapsOrphansAndStopsInOrderOnTERM runs `respawn up` as PID 1 of a
// fresh PID namespace, the way a container runs it: every orphan of the
// namespace becomes its child, so it alone can reap them, and the container
// runtime stops it with SIGTERM.
func TestPID1ReapsOrphansAndStopsInOrderOnTERM(t *testing.T) {
	t.Parallel()
	requirePIDNamespace(t)
	m := marker(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "respawn.yaml")
	gone := filepath.Join(dir, "orphans-gone")
	// Each round leaves five subshells behind whose parent has already exited:
	// they are re-parented to PID 1, note that they are done, and exit.
	writeConfig(t, config, fmt.Sprintf(`
version: 1
services:
  orphaner:
    command: ["sh", "-c", "while :; do sh -c 'for i in 1 2 3 4 5; do { sleep 0.05; echo x >> %s; } & done'; sleep 0.02; done # %s"]
  tail:
    command: sleep 5%[2]s
    depends_on: [orphaner]
`, gone, m))
	s := startPID1(t, dir, config)
	ns := s.pidNamespace()
	s.waitFor("tail", "running", func(x api.Service) bool { return x.State == "running" })

	// No zombie lingers while hundreds of orphans come and go. Reaping takes
	// microseconds; a zombie still there seconds later was dropped.
	const wantOrphans = 300
	const zombieGrace = 5 * time.Second
	firstSeen := map[procKey]time.Time{}
	adopted := map[procKey]bool{}
	maxZombies := 0
	end := time.Now().Add(3 * deadline)
	for countLines(t, gone) < wantOrphans {
		if time.Now().After(end) {
			t.Fatalf("only %d orphans exited within %s", countLines(t, gone), 3*deadline)
		}
		now := time.Now()
		zombies := 0
		for k, p := range nsProcs(ns) {
			if p.ppid == s.pid1 && (p.state == 'Z' || strings.Contains(p.cmdline, "for i in")) {
				adopted[k] = true
			}
			if p.state != 'Z' {
				continue
			}
			zombies++
			first, ok := firstSeen[k]
			if !ok {
				firstSeen[k] = now
			} else if now.Sub(first) > zombieGrace {
				t.Fatalf("pid %d (outer) has been a zombie for %s; parent %d, PID 1 is %d", k.pid, now.Sub(first).Round(time.Millisecond), p.ppid, s.pid1)
			}
		}
		maxZombies = max(maxZombies, zombies)
		time.Sleep(20 * time.Millisecond)
	}
	// The zombies of the last sample must all be reaped, too.
	left := zombiesOf(nsProcs(ns))
	end = time.Now().Add(deadline)
	for {
		still := 0
		now := zombiesOf(nsProcs(ns))
		for k := range left {
			if now[k] {
				still++
			}
		}
		if still == 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("%d zombies of the namespace not reaped after %s", still, deadline)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Without orphans really landing on PID 1 the above would prove nothing.
	if len(adopted) < 3 {
		t.Fatalf("only %d processes seen re-parented to PID 1; the service does not orphan anything", len(adopted))
	}
	t.Logf("%d orphans exited, %d seen adopted by PID 1, at most %d zombies at once", countLines(t, gone), len(adopted), maxZombies)

	s.stopWithTERM()
	log := s.stderr.String()
	tailStopped := logIndex(log, "service=tail ", "to=stopped")
	orphanerStopping := logIndex(log, "service=orphaner ", "to=stopping")
	if tailStopped < 0 || orphanerStopping < 0 || tailStopped > orphanerStopping {
		t.Errorf("services not stopped in reverse dependency order (tail stopped at %d, orphaner stopping at %d)", tailStopped, orphanerStopping)
	}
}

// TestPID1ReloadsOnHUP: a container runtime has only signals to ask PID 1 for
// a reload.
func TestPID1ReloadsOnHUP(t *testing.T) {
	t.Parallel()
	requirePIDNamespace(t)
	m := marker(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "respawn.yaml")
	first := fmt.Sprintf("version: 1\nservices:\n  keep: {command: sleep 1%s}\n", m)
	writeConfig(t, config, first)
	s := startPID1(t, dir, config)
	before := s.waitFor("keep", "running", func(x api.Service) bool { return x.State == "running" })

	writeConfig(t, config, first+fmt.Sprintf("  added: {command: sleep 2%s}\n", m))
	if err := syscall.Kill(s.pid1, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitFor("added", "running", func(x api.Service) bool { return x.State == "running" })
	if after := s.service("keep"); after.Pid != before.Pid || after.Restarts != before.Restarts {
		t.Errorf("reload touched the unchanged service: before %+v, after %+v", before, after)
	}
	if !strings.Contains(s.stderr.String(), "SIGHUP received") {
		t.Errorf("log does not mention the SIGHUP")
	}
	s.stopWithTERM()
}

// requirePIDNamespace skips unless this process may create PID namespaces.
func requirePIDNamespace(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("PID namespaces need root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) not installed")
	}
	if out, err := exec.Command("unshare", "-fp", "--mount-proc", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot create a PID namespace: %v: %s", err, out)
	}
}

func writeConfig(t *testing.T, path, config string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pid1Sup is a supervisor running as PID 1 of its own PID namespace.
type pid1Sup struct {
	*sup
	pid1 int // its pid as seen from here
}

// startPID1 runs `respawn up` under `unshare -fp --mount-proc` and waits until
// it answers on its control socket.
func startPID1(t *testing.T, dir, config string) *pid1Sup {
	t.Helper()
	s := &sup{t: t, dir: dir, config: config, stderr: &syncBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command("unshare", "-fp", "--mount-proc", bin, "up", "--no-output", "-c", config)
	s.cmd.Stdout, s.cmd.Stderr = s.stderr, s.stderr
	s.cmd.WaitDelay = 5 * time.Second
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.exitErr = s.cmd.Wait()
		close(s.exited)
	}()
	p := &pid1Sup{sup: s}
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			// Killing PID 1 takes the whole namespace down with it.
			if p.pid1 > 0 {
				syscall.Kill(p.pid1, syscall.SIGKILL)
			}
			s.cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("supervisor log:\n%s", s.stderr.String())
		}
	})
	end := time.Now().Add(deadline)
	for p.pid1 == 0 {
		if time.Now().After(end) {
			t.Fatalf("unshare started no child within %s\n%s", deadline, s.stderr.String())
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", s.cmd.Process.Pid, s.cmd.Process.Pid))
		if f := strings.Fields(string(b)); len(f) > 0 {
			p.pid1, _ = strconv.Atoi(f[0])
			continue
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.waitUp()
	return p
}

// pidNamespace names PID 1's namespace; it tells the processes of the
// namespace apart whatever their ancestry.
func (p *pid1Sup) pidNamespace() string {
	p.t.Helper()
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", p.pid1))
	if err != nil {
		p.t.Fatal(err)
	}
	return ns
}

// stopWithTERM signals PID 1 itself (unshare forwards no signal) and asserts
// a clean stop: exit 0 and nothing of the namespace left.
func (p *pid1Sup) stopWithTERM() {
	p.t.Helper()
	ns := p.pidNamespace()
	if err := syscall.Kill(p.pid1, syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(deadline):
		p.t.Fatalf("PID 1 did not exit within %s of SIGTERM", deadline)
	}
	// unshare exits with its child's code, so this is respawn's own exit code.
	if p.exitErr != nil {
		p.t.Fatalf("exit after SIGTERM: %v", p.exitErr)
	}
	if !strings.Contains(p.stderr.String(), "supervisor stopped") {
		p.t.Errorf("log does not say the supervisor stopped")
	}
	end := time.Now().Add(deadline)
	for len(nsProcs(ns)) > 0 {
		if time.Now().After(end) {
			p.t.Fatalf("processes of the namespace outlive its PID 1: %v", nsProcs(ns))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procKey identifies a process across samples: a pid is reused only by a
// process started later.
type procKey struct {
	pid   int
	start string
}

type procInfo struct {
	state   byte
	ppid    int
	cmdline string
}

func (p procInfo) String() string {
	return fmt.Sprintf("{%c ppid %d %q}", p.state, p.ppid, p.cmdline)
}

// nsProcs reads every process of the PID namespace ns from /proc.
func nsProcs(ns string) map[procKey]procInfo {
	procs := map[procKey]procInfo{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if link, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "pid")); err != nil || link != ns {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		// After the command: state (field 3), ppid (4), ... starttime (22).
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 20 || len(f[0]) != 1 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		procs[procKey{pid: pid, start: f[19]}] = procInfo{
			state:   f[0][0],
			ppid:    ppid,
			cmdline: string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})),
		}
	}
	return procs
}

func zombiesOf(procs map[procKey]procInfo) map[procKey]bool {
	z := map[procKey]bool{}
	for k, p := range procs {
		if p.state == 'Z' {
			z[k] = true
		}
	}
	return z
}

// logIndex is the offset of the first log line holding every one of parts, or -1.
func logIndex(log string, parts ...string) int {
	off := 0
	for line := range strings.Lines(log) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return off
		}
		off += len(line)
	}
	return -1
}
