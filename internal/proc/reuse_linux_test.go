//go:build linux

package proc

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A run that ends with nothing left leaves its cgroup unkilled: killing the
// empty tree is a no-op, the next run of the service takes the same cgroup,
// and its CPU time does not include the runs before it.
func TestCleanExitKeepsTheCgroupForTheNextRun(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3")
	}
	m := newManager(t, false)
	if m.Containment() != ContainCgroup {
		t.Skip("cgroup containment unavailable here")
	}
	burn := `python3 -c '
import time
t = time.process_time()
while time.process_time() - t < 0.3:
    pass
'`
	first := spawn(t, m, shSpec("reuse", burn))
	if e := waitDone(t, first); e.Code != 0 || e.Signal != 0 {
		t.Fatalf("first run: %v", e)
	}
	if !first.TreeGone() {
		t.Fatal("TreeGone() = false after a run that left nothing")
	}
	if err := first.KillTree(); err != nil {
		t.Fatalf("KillTree of an empty tree: %v", err)
	}
	m.mu.Lock()
	s := m.services["reuse"]
	m.mu.Unlock()
	cg := s.cg
	if cg == nil || cg.wasKilled() {
		t.Fatalf("cgroup after a clean exit and a kill of the empty tree: %+v", cg)
	}
	if used := cg.cpuTime(); used < 200*time.Millisecond {
		t.Fatalf("the cgroup counted %v for the first run, want about 300ms", used)
	}

	second := spawn(t, m, shSpec("reuse", `echo ready; exec sleep 1000`))
	if got := readLine(t, second.Stdout()); got != "ready" {
		t.Fatalf("second run said %q", got)
	}
	if s.cg != cg {
		t.Fatal("the second run got a new cgroup; want the first's, never killed")
	}
	cpu, _, err := second.Usage()
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	if cpu >= 150*time.Millisecond {
		t.Errorf("second run's CPU %v includes the first run's", cpu)
	}
	if second.TreeGone() {
		t.Error("TreeGone() = true while the run lives")
	}
	if err := second.KillTree(); err != nil {
		t.Fatal(err)
	}
	treeGone(t, second)
	if !second.TreeGone() {
		t.Error("TreeGone() = false after the tree was killed and reaped")
	}
}

// A run whose main process ends but leaves a child behind is not gone.
func TestTreeGoneWaitsForWhatTheRunLeft(t *testing.T) {
	eachMode(t, func(t *testing.T, m *Manager) {
		p := spawn(t, m, shSpec("leaver", `sleep 1000 & echo $!`))
		child := readLine(t, p.Stdout())
		waitDone(t, p)
		if p.TreeGone() {
			t.Fatalf("TreeGone() = true while child %s lives", child)
		}
		if err := p.KillTree(); err != nil {
			t.Fatal(err)
		}
		treeGone(t, p)
		if !p.TreeGone() {
			t.Error("TreeGone() = false once the child was killed")
		}
	})
}

// A child's stdout and stderr are in blocking mode, as programs expect of
// their output, with or without the exec trampoline.
func TestChildOutputIsBlocking(t *testing.T) {
	m := newManager(t, true)
	umask := uint32(0o022)
	for _, spec := range []Spec{
		shSpec("direct", `grep -h flags /proc/self/fdinfo/1 /proc/self/fdinfo/2`),
		{Name: "trampoline", Args: []string{"sh", "-c", `grep -h flags /proc/self/fdinfo/1 /proc/self/fdinfo/2`}, Env: testEnv(), Umask: &umask},
	} {
		out, e := run(t, m, spec)
		if e.Code != 0 {
			t.Fatalf("%s: %v", spec.Name, e)
		}
		lines := strings.Fields(out)
		if len(lines) != 4 {
			t.Fatalf("%s: fdinfo flags %q", spec.Name, out)
		}
		for _, v := range []string{lines[1], lines[3]} {
			flags, err := strconv.ParseUint(v, 8, 64)
			if err != nil {
				t.Fatal(err)
			}
			if flags&unix.O_NONBLOCK != 0 {
				t.Errorf("%s: a child's output is non-blocking (flags %s)", spec.Name, v)
			}
		}
	}
}
