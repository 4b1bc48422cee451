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
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// bin is the respawn binary built once for the end-to-end tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "respawn-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "respawn")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	if os.Getenv("RESPAWN_PLATFORM") == "posix" {
		// The POSIX pass runs the binary as macOS and FreeBSD build it: with
		// the portable output capture (a goroutine per stream) too.
		args = append(args, "-tags", "portable_poller")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build respawn:", err)
		os.Exit(1)
	}
	// A race-enabled binary sleeps a second at exit by default; every CLI call
	// of these tests would pay it.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// deadline is generous: these tests must pass on a loaded 2-core machine.
const deadline = 20 * time.Second

// sup is one running supervisor under test.
type sup struct {
	t       *testing.T
	dir     string
	config  string
	cmd     *exec.Cmd
	stderr  *syncBuffer
	exited  chan struct{} // closed when the supervisor process has exited
	exitErr error         // valid once exited is closed
	env     []string      // added to up's environment
}

// startSup writes the config into a fresh dir and runs `respawn up` on it.
func startSup(t *testing.T, config string) *sup {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "respawn.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &sup{t: t, dir: dir, config: path, stderr: &syncBuffer{}, exited: make(chan struct{})}
	s.start()
	return s
}

// start runs `respawn up` on the sup's config and waits until it answers.
func (s *sup) start() {
	t := s.t
	t.Helper()
	s.cmd = exec.Command(bin, "up", "--no-output", "-c", s.config)
	s.cmd.Stderr = s.stderr
	if s.env != nil {
		s.cmd.Env = append(os.Environ(), s.env...)
	}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A service that escaped containment may hold an inherited copy of our
	// stderr pipe; do not let that hang the test after the supervisor is gone.
	s.cmd.WaitDelay = 5 * time.Second
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.exitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(deadline):
				s.cmd.Process.Kill()
				<-s.exited
			}
		}
		// A race-enabled supervisor reports races on its stderr and exits 66.
		if strings.Contains(s.stderr.String(), "WARNING: DATA RACE") {
			t.Errorf("the supervisor reported a data race:\n%s", s.stderr.String())
		} else if t.Failed() {
			t.Logf("supervisor log:\n%s", s.stderr.String())
		}
	})
	s.waitUp()
}

func (s *sup) waitUp() {
	s.t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		select {
		case <-s.exited:
			s.t.Fatalf("supervisor exited early: %v\n%s", s.exitErr, s.stderr.String())
		default:
		}
		if _, _, code := s.run("status"); code == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("supervisor not answering after %s\n%s", deadline, s.stderr.String())
}

// run runs a respawn command against this supervisor's config.
func (s *sup) run(args ...string) (stdout, stderr string, code int) {
	return runRespawn(s.dir, append(args, "-c", s.config)...)
}

func runRespawn(dir string, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return out.String(), errb.String(), code
}

func (s *sup) status() api.Status {
	s.t.Helper()
	out, errs, code := s.run("status", "-o", "json")
	if code != 0 {
		s.t.Fatalf("status exit %d: %s", code, errs)
	}
	var st api.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		s.t.Fatalf("status json: %v\n%s", err, out)
	}
	return st
}

func (s *sup) service(name string) api.Service {
	s.t.Helper()
	for _, svc := range s.status().Services {
		if svc.Name == name {
			return svc
		}
	}
	s.t.Fatalf("no service %s in status", name)
	return api.Service{}
}

// waitFor polls status until cond holds for the named service.
func (s *sup) waitFor(name string, what string, cond func(api.Service) bool) api.Service {
	s.t.Helper()
	end := time.Now().Add(deadline)
	var last api.Service
	for time.Now().Before(end) {
		// The service may not exist yet (a reload adds it): keep polling.
		for _, svc := range s.status().Services {
			if svc.Name == name {
				last = svc
				if cond(last) {
					return last
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("%s: never %s; last %+v", name, what, last)
	return last
}

func (s *sup) waitExit() {
	s.t.Helper()
	select {
	case <-s.exited:
		if s.exitErr != nil {
			s.t.Fatalf("supervisor exit: %v\n%s", s.exitErr, s.stderr.String())
		}
	case <-time.After(deadline):
		s.t.Fatalf("supervisor did not exit\n%s", s.stderr.String())
	}
}

// procsWith lists live (non-zombie) pids whose command line, words joined by
// spaces, is exactly cmd.
func procsWith(cmd string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || string(bytes.TrimSpace(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))) != cmd {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}

// waitNone waits until no process carries marker.
func waitNone(t *testing.T, marker string) {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		if len(procsWith(marker)) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("processes with %q still alive: %v", marker, procsWith(marker))
}

// posixRun reports whether the suite runs on the POSIX path
// (RESPAWN_PLATFORM=posix, which every `up` of the suite inherits): no
// subreaper, no parent-death signal, no cgroups, no pidfds.
func posixRun() bool { return os.Getenv("RESPAWN_PLATFORM") == "posix" }

var markers atomic.Int64

// marker returns a number unique to this test, to find its processes in /proc.
func marker(t *testing.T) string {
	return fmt.Sprintf("%d%03d", os.Getpid(), markers.Add(1))
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// syncBuffer collects the supervisor's stderr while tests read it.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
