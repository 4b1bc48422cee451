//go:build linux

package proc

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestPdeathsig: when a supervisor dies by SIGKILL, what it started dies too.
func TestPdeathsig(t *testing.T) {
	modes := []string{"pdeathsig"}
	if os.Geteuid() == 0 {
		if _, _, err := lookupUser("nobody"); err == nil {
			modes = append(modes, "pdeathsig-user")
		}
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			m := newManager(t, true)
			helper := spawnHelper(t, m, mode)
			line := readLine(t, helper.Stdout())
			pid, err := strconv.Atoi(line)
			if err != nil {
				t.Fatalf("helper said %q: %v (stderr %q)", line, err, readAll(t, helper.Stderr()))
			}
			waitFor(t, "sleep 1003 to run", func() bool { return len(procsWithCmdline("sleep 1003")) == 1 })
			if err := syscall.Kill(helper.Pid(), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			waitDone(t, helper)
			waitFor(t, "the helper's child to die with it", func() bool { return processGone(pid) })
		})
	}
}

// TestReexecKeepsChildren: an in-place re-exec keeps the services it started
// alive (their parent-death signal does not fire), and they still die with
// the new image.
func TestReexecKeepsChildren(t *testing.T) {
	m := newManager(t, true)
	helper := spawnHelper(t, m, "reexec")
	r := bufio.NewReader(helper.Stdout())
	if err := helper.Stdout().SetReadDeadline(time.Now().Add(deadline)); err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Fscanln(r, &pid); err != nil {
		t.Fatalf("read sleep pid: %v (stderr %q)", err, readAll(t, helper.Stderr()))
	}
	var word string
	var newPid int
	if _, err := fmt.Fscanln(r, &word, &newPid); err != nil || word != "reexeced" {
		t.Fatalf("after re-exec: %q %v (stderr %q)", word, err, readAll(t, helper.Stderr()))
	}
	if newPid != helper.Pid() {
		t.Errorf("re-exec changed the pid: %d, was %d", newPid, helper.Pid())
	}
	if state, ppid, _, err := procStat(pid); err != nil || state == 'Z' || ppid != helper.Pid() {
		t.Fatalf("sleep after re-exec: state %c ppid %d err %v; want alive, child of %d", state, ppid, err, helper.Pid())
	}
	if err := syscall.Kill(helper.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDone(t, helper)
	waitFor(t, "the sleep to die with the re-executed helper", func() bool { return processGone(pid) })
}

// TestPdeathsigInChild: every way of starting a child leaves it with the
// parent-death signal, including the trampoline, which runs as a
// multi-threaded Go program and may switch credentials (which clears it).
func TestPdeathsigInChild(t *testing.T) {
	m := newManager(t, true)
	mask := uint32(0o022)
	cases := map[string]Spec{
		"direct":     {},
		"trampoline": {Umask: &mask},
	}
	if os.Geteuid() == 0 {
		if _, _, err := lookupUser("nobody"); err == nil {
			cases["user"] = Spec{User: "nobody"}
			cases["user via trampoline"] = Spec{User: "nobody", Umask: &mask}
		}
	}
	for name, spec := range cases {
		t.Run(name, func(t *testing.T) {
			exe := helperExe(t)
			if spec.User != "" {
				exe = worldExecutableCopy(t, exe)
			}
			// Several times, as the runtime's thread choice varies between runs.
			for range 5 {
				spec.Name = "pdeathsig"
				spec.Args = []string{exe}
				// No race-detector pause at exit.
				spec.Env = append(testEnv(), helperEnv+"=print-pdeathsig", "GORACE=atexit_sleep_ms=0")
				out, exit := run(t, m, spec)
				if want := fmt.Sprintf("%d\n", syscall.SIGKILL); out != want || exit.Code != 0 {
					t.Fatalf("child's parent-death signal: %q (%v), want %q", out, exit, want)
				}
			}
		})
	}
}

// worldExecutableCopy copies the test binary where any user may run it (the
// build directory is private to its owner).
func worldExecutableCopy(t *testing.T, exe string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "respawn-proc-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "helper")
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// spawnHelper starts the test binary in a helper mode that runs a Manager of
// its own. As the helper dies without closing it, a Manager with the same
// InstanceID cleans up its cgroups afterwards.
func spawnHelper(t *testing.T, m *Manager, mode string, env ...string) *Process {
	t.Helper()
	id := fmt.Sprintf("test%d-helper-%d", os.Getpid(), instanceSeq.Add(1))
	t.Cleanup(func() {
		janitor, err := NewManager(Options{InstanceID: id})
		if err != nil {
			t.Errorf("clean up after helper: %v", err)
			return
		}
		if err := janitor.Close(); err != nil {
			t.Errorf("clean up after helper: %v", err)
		}
	})
	return spawn(t, m, Spec{
		Name: "helper",
		Args: []string{helperExe(t)},
		// No race-detector pause at exit.
		Env: append(append(testEnv(), helperEnv+"="+mode, helperIDEnv+"="+id, "GORACE=atexit_sleep_ms=0"), env...),
	})
}
