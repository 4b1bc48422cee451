package proc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/respawn-sh/respawn/internal/proc/discover"
)

const (
	pidfileEnv = "RESPAWN_PROC_TEST_PIDFILE"
	setsidEnv  = "RESPAWN_PROC_TEST_SETSID"
)

// launchDaemon is the "daemon-launcher" helper: it starts itself as a
// sleeping daemon (in a new session when asked), writes the daemon's pid to
// the pidfile atomically and exits 0.
func launchDaemon() int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	d, err := os.StartProcess(self, []string{self, "daemon"}, &os.ProcAttr{
		Env:   []string{helperEnv + "=sleep"},
		Files: []*os.File{devnull, devnull, devnull},
		Sys:   &syscall.SysProcAttr{Setsid: os.Getenv(setsidEnv) != ""},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	pidfile := os.Getenv(pidfileEnv)
	if err := os.WriteFile(pidfile+".tmp", []byte(fmt.Sprintf("%d\n", d.Pid)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := os.Rename(pidfile+".tmp", pidfile); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

// startDaemon runs a launcher for service name and returns it (reaped) and
// the pid of the daemon it left behind.
func startDaemon(t *testing.T, m *Manager, name string, setsid bool) (*Process, int) {
	t.Helper()
	pidfile := filepath.Join(t.TempDir(), "daemon.pid")
	// No race-detector pause at the launcher's exit.
	env := []string{helperEnv + "=daemon-launcher", pidfileEnv + "=" + pidfile, "GORACE=atexit_sleep_ms=0"}
	if setsid {
		env = append(env, setsidEnv+"=1")
	}
	launcher := spawn(t, m, Spec{Name: name, Args: []string{helperExe(t)}, Env: env})
	if e := waitDone(t, launcher); e.Code != 0 || e.Signal != 0 {
		t.Fatalf("launcher: %v, stderr %q", e, readAll(t, launcher.Stderr()))
	}
	pid, err := discover.PidFromFile(pidfile)
	if err != nil {
		t.Fatalf("discover.PidFromFile: %v", err)
	}
	if _, ppid, _, err := procStat(pid); err != nil || ppid != os.Getpid() {
		t.Fatalf("daemon %d: ppid %d (err %v), want us (%d)", pid, ppid, err, os.Getpid())
	}
	return launcher, pid
}

func TestAdoptDaemon(t *testing.T) {
	eachMode(t, func(t *testing.T, m *Manager) {
		cases := []struct {
			name   string
			setsid bool
			stop   func(p *Process) error
			sig    syscall.Signal
		}{
			{"setsid-killtree", true, (*Process).KillTree, syscall.SIGKILL},
			{"same-group-sigkill", false, func(p *Process) error { return p.Signal(syscall.SIGKILL) }, syscall.SIGKILL},
			{"setsid-sigterm", true, func(p *Process) error { return p.Signal(syscall.SIGTERM) }, syscall.SIGTERM},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				launcher, pid := startDaemon(t, m, tc.name, tc.setsid)
				p, err := m.Adopt(tc.name, pid)
				if err != nil {
					t.Fatalf("Adopt: %v", err)
				}
				if p.Pid() != pid || p.Stdout() != nil || p.Stderr() != nil || p.StartedAt().IsZero() {
					t.Fatalf("adopted: pid %d stdout %v stderr %v started %v", p.Pid(), p.Stdout(), p.Stderr(), p.StartedAt())
				}
				if p.cg != launcher.cg {
					t.Fatalf("adopted cgroup %v, launcher's %v", p.cg, launcher.cg)
				}
				wantPgid := launcher.Pid()
				if tc.setsid {
					wantPgid = pid
				}
				if p.pgid != wantPgid {
					t.Fatalf("pgid %d, want %d", p.pgid, wantPgid)
				}
				select {
				case <-p.Done():
					t.Fatalf("Done closed while the daemon runs: %v", p.Exit())
				default:
				}
				if err := tc.stop(p); err != nil {
					t.Fatalf("stop: %v", err)
				}
				e := waitDone(t, p)
				if e.Signal != int(tc.sig) || e.Code != -1 || e.Unknown {
					t.Fatalf("Exit() = %+v, want signal %d", e, tc.sig)
				}
				treeGone(t, p)
				if err := p.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
					t.Fatalf("Signal after exit: %v, want os.ErrProcessDone", err)
				}
			})
		}
	})
}

func TestAdoptRefusals(t *testing.T) {
	m := newManager(t, true)
	if _, err := m.Adopt("svc", os.Getppid()); !errors.Is(err, ErrNotChild) {
		t.Fatalf("Adopt(our parent): %v, want ErrNotChild", err)
	}
	reaper.mu.Lock()
	_, left := reaper.procs[os.Getppid()]
	reaper.mu.Unlock()
	if left {
		t.Fatal("a refused pid stays registered with the reaper")
	}

	gone := spawn(t, m, shSpec("gone", "exit 0"))
	waitDone(t, gone)
	if _, err := m.Adopt("gone", gone.Pid()); !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("Adopt(reaped pid): %v, want os.ErrProcessDone", err)
	}

	running := spawn(t, m, shSpec("running", "exec sleep 1022"))
	if _, err := m.Adopt("running", running.Pid()); !errors.Is(err, ErrTracked) {
		t.Fatalf("Adopt(spawned pid): %v, want ErrTracked", err)
	}
	if err := running.KillTree(); err != nil {
		t.Fatal(err)
	}
	if e := waitDone(t, running); e.Signal != int(syscall.SIGKILL) {
		t.Fatalf("spawned process after refused Adopt: %v", e)
	}

	if _, err := m.Adopt("svc", 0); !errors.Is(err, ErrInvalidPid) {
		t.Fatalf("Adopt(pid 0): %v, want ErrInvalidPid", err)
	}
	if _, err := m.Adopt("a/b", 5); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("Adopt(bad name): %v, want ErrInvalidName", err)
	}
}

// In cgroup mode a child of ours that runs in another service's cgroup is
// refused: a stale pidfile must not hand over another service's daemon.
func TestAdoptOtherServicesDaemon(t *testing.T) {
	m := newManager(t, false)
	if m.Containment() != ContainCgroup {
		t.Skip("cgroup containment unavailable here")
	}
	_, pid := startDaemon(t, m, "owner", true)
	other := spawn(t, m, shSpec("other", "exit 0"))
	waitDone(t, other)
	if _, err := m.Adopt("other", pid); !errors.Is(err, ErrNotChild) {
		t.Fatalf("Adopt(other service's daemon): %v, want ErrNotChild", err)
	}
	p, err := m.Adopt("owner", pid)
	if err != nil {
		t.Fatalf("Adopt by its own service: %v", err)
	}
	if err := p.KillTree(); err != nil {
		t.Fatal(err)
	}
	if e := waitDone(t, p); e.Signal != int(syscall.SIGKILL) {
		t.Fatalf("Exit() = %v", e)
	}
}
