//go:build linux

package proc

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The test binary doubles as a helper process: with helperEnv set it runs a
// helper mode instead of the tests. Tests in this package never use
// exec.Cmd.Wait or os.Process.Wait: the package's reaper owns all waiting.
const (
	helperEnv   = "RESPAWN_PROC_TEST_HELPER"
	helperIDEnv = "RESPAWN_PROC_TEST_ID"
	// deadline bounds every wait: generous, for a loaded 2-core machine.
	deadline = 30 * time.Second
)

// The parent-death signal is per thread: read it on the main thread, which
// the fork gave it to.
func init() {
	if os.Getenv(helperEnv) == "print-pdeathsig" {
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	RunTrampoline()
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

func runHelper(mode string) int {
	switch mode {
	case "pdeathsig", "pdeathsig-user":
		// Start a sleep through our own Manager, report its pid, then wait to be killed.
		m, err := NewManager(Options{InstanceID: os.Getenv(helperIDEnv)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		spec := Spec{Name: "sleeper", Args: []string{"sleep", "1003"}, Env: []string{"PATH=" + os.Getenv("PATH")}}
		if mode == "pdeathsig-user" {
			// Through the trampoline with a credential change, which clears the
			// parent-death signal unless it is set again.
			mask := uint32(0o022)
			spec.User, spec.Umask = "nobody", &mask
		}
		p, err := m.Spawn(spec)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Println(p.Pid())
		time.Sleep(time.Hour) // not synchronization: the test kills us
		return 0
	case "print-pdeathsig":
		// PR_GET_PDEATHSIG stores the signal through its pointer argument.
		var sig int32
		if err := unix.Prctl(unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&sig)), 0, 0, 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Println(sig)
		return 0
	case "reexec":
		// Start a sleep, then replace ourselves; the sleep must survive that.
		m, err := NewManager(Options{InstanceID: os.Getenv(helperIDEnv), NoCgroup: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		p, err := m.Spawn(Spec{Name: "sleeper", Args: []string{"sleep", "1015"}, Env: []string{"PATH=" + os.Getenv("PATH")}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Println(p.Pid())
		self, _ := os.Executable()
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, helperEnv+"=") {
				env = append(env, kv)
			}
		}
		env = append(env, helperEnv+"=reexeced")
		err = Reexec(self, []string{self}, env)
		fmt.Fprintln(os.Stderr, err)
		return 2
	case "daemon-launcher":
		// Daemonize: start the daemon, record its pid, and exit, leaving the
		// daemon to be re-parented to the test process (child subreaper).
		return launchDaemon()
	case "zombie-parent":
		return startZombie()
	case "sleep":
		time.Sleep(time.Hour) // not synchronization: the test kills us
		return 0
	case "resume-before":
		return resumeBefore()
	case "resume-after":
		return resumeAfter()
	case "reexeced":
		fmt.Println("reexeced", os.Getpid())
		time.Sleep(time.Hour) // not synchronization: the test kills us
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
	return 2
}

var instanceSeq atomic.Int64

// newManager returns a Manager with a fresh InstanceID that forgets every
// service (killing what is left) and closes at the end of the test.
func newManager(t testing.TB, noCgroup bool) *Manager {
	t.Helper()
	return newManagerWith(t, Options{NoCgroup: noCgroup})
}

// newManagerWith is newManager with more options; InstanceID is chosen here.
func newManagerWith(t testing.TB, opts Options) *Manager {
	t.Helper()
	opts.InstanceID = fmt.Sprintf("test%d-%d", os.Getpid(), instanceSeq.Add(1))
	m, err := NewManager(opts)
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	t.Cleanup(func() { cleanupManager(t, m) })
	return m
}

func cleanupManager(t testing.TB, m *Manager) {
	m.mu.Lock()
	var names []string
	for name := range m.services {
		names = append(names, name)
	}
	m.mu.Unlock()
	for _, name := range names {
		if err := m.Forget(name); err != nil {
			t.Errorf("Forget(%s): %v", name, err)
		}
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// eachMode runs fn once per containment mode, skipping cgroup mode where
// cgroups are unavailable.
func eachMode(t *testing.T, fn func(t *testing.T, m *Manager)) {
	t.Run("cgroup", func(t *testing.T) {
		m := newManager(t, false)
		if m.Containment() != ContainCgroup {
			t.Skip("cgroup containment unavailable here")
		}
		fn(t, m)
	})
	t.Run("process-group", func(t *testing.T) {
		m := newManager(t, true)
		if m.Containment() != ContainProcessGroup {
			t.Fatalf("Containment() = %s with NoCgroup", m.Containment())
		}
		fn(t, m)
	})
}

func testEnv() []string { return []string{"PATH=" + os.Getenv("PATH")} }

func shSpec(name, script string) Spec {
	return Spec{Name: name, Args: []string{"sh", "-c", script}, Env: testEnv()}
}

// spawn starts spec and arranges for its pipes to be closed.
func spawn(t testing.TB, m *Manager, spec Spec) *Process {
	t.Helper()
	p, err := m.Spawn(spec)
	if err != nil {
		t.Fatalf("Spawn(%v): %v", spec.Args, err)
	}
	t.Cleanup(func() {
		p.Stdout().Close()
		p.Stderr().Close()
	})
	return p
}

func waitDone(t testing.TB, p *Process) Exit {
	t.Helper()
	select {
	case <-p.Done():
		return p.Exit()
	case <-time.After(deadline):
		t.Fatalf("pid %d not reaped within %v", p.Pid(), deadline)
		return Exit{}
	}
}

// readAll reads f to EOF, bounded by the deadline.
func readAll(t testing.TB, f *os.File) string {
	t.Helper()
	if err := f.SetReadDeadline(time.Now().Add(deadline)); err != nil {
		t.Fatalf("SetReadDeadline: %v", err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read output: %v", err)
	}
	return string(b)
}

// run spawns spec and returns its stdout and exit.
func run(t testing.TB, m *Manager, spec Spec) (string, Exit) {
	t.Helper()
	p := spawn(t, m, spec)
	out := readAll(t, p.Stdout())
	return out, waitDone(t, p)
}

// readLine reads one line of r, bounded by the deadline.
func readLine(t testing.TB, f *os.File) string {
	t.Helper()
	if err := f.SetReadDeadline(time.Now().Add(deadline)); err != nil {
		t.Fatalf("SetReadDeadline: %v", err)
	}
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return "read error: " + err.Error()
	}
	return strings.TrimSpace(line)
}

// waitFor polls cond until it holds, failing the test at the deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func treeGone(t testing.TB, p *Process) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := p.WaitTreeGone(ctx); err != nil {
		t.Fatalf("WaitTreeGone: %v", err)
	}
}

// procsWithCmdline lists live processes whose argv joined by spaces is cmdline.
func procsWithCmdline(cmdline string) []int {
	want := []byte(strings.ReplaceAll(cmdline, " ", "\x00") + "\x00")
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		b, err := os.ReadFile(dir + "/cmdline")
		if err == nil && bytes.Equal(b, want) {
			pid, _ := strconv.Atoi(filepath.Base(dir))
			pids = append(pids, pid)
		}
	}
	return pids
}

// procStat returns the state, ppid and session of pid from /proc/pid/stat.
func procStat(pid int) (state byte, ppid, session int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	// The command name may hold spaces; the fields after it do not.
	rest := b[bytes.LastIndexByte(b, ')')+2:]
	f := strings.Fields(string(rest))
	ppid, _ = strconv.Atoi(f[1])
	session, _ = strconv.Atoi(f[3])
	return f[0][0], ppid, session, nil
}

// zombieChildren lists our children that nobody reaped.
func zombieChildren() []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(dir))
		state, ppid, _, err := procStat(pid)
		if err == nil && state == 'Z' && ppid == os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

func processGone(pid int) bool {
	return syscall.Kill(pid, 0) == syscall.ESRCH
}

func helperExe(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("os.Executable: %v", err)
	}
	return exe
}
