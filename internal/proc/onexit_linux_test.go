package proc

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"
	"time"
)

// onExitRecorder collects what OnExit hands over, and checks that each
// Process arrives already ended.
type onExitRecorder struct {
	t  *testing.T
	ch chan *Process
}

func newOnExitRecorder(t *testing.T) *onExitRecorder {
	return &onExitRecorder{t: t, ch: make(chan *Process, 64)}
}

func (r *onExitRecorder) onExit(p *Process) {
	select {
	case <-p.Done():
	default:
		r.t.Errorf("OnExit(pid %d) before Done was closed", p.Pid())
	}
	select {
	case r.ch <- p:
	default:
		r.t.Errorf("OnExit(pid %d): recorder full", p.Pid())
	}
}

// next returns the next Process handed to OnExit.
func (r *onExitRecorder) next(t *testing.T) *Process {
	t.Helper()
	select {
	case p := <-r.ch:
		return p
	case <-time.After(deadline):
		t.Fatalf("no OnExit call within %v", deadline)
		return nil
	}
}

func TestOnExit(t *testing.T) {
	for _, mode := range []Containment{ContainCgroup, ContainProcessGroup} {
		t.Run(string(mode), func(t *testing.T) {
			rec := newOnExitRecorder(t)
			m := newManagerWith(t, Options{NoCgroup: mode == ContainProcessGroup, OnExit: rec.onExit})
			if m.Containment() != mode {
				t.Skipf("containment %s unavailable", mode)
			}

			// A child whose trampoline failed is reaped inside Spawn and is no
			// Process of ours: it must not be announced.
			mask := uint32(0o022)
			_, err := m.Spawn(Spec{Name: "failed", Args: []string{"./missing"}, Dir: t.TempDir(), Umask: &mask})
			if !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Spawn through a failing trampoline: %v", err)
			}

			p := spawn(t, m, shSpec("code", "exit 3"))
			if got := rec.next(t); got != p || got.Exit().Code != 3 {
				t.Fatalf("OnExit got pid %d (%v), want pid %d with exit status 3", got.Pid(), got.Exit(), p.Pid())
			}

			// Children that exit at once, maybe before Spawn returns, are each
			// announced exactly once.
			want := make(map[*Process]bool)
			for range 20 {
				want[spawn(t, m, Spec{Name: "quick", Args: []string{"true"}, Env: testEnv()})] = true
			}
			for range len(want) {
				got := rec.next(t)
				if !want[got] {
					t.Fatalf("OnExit got pid %d, not a quick child or a second time", got.Pid())
				}
				delete(want, got)
			}

			launcher, pid := startDaemon(t, m, "daemon", true)
			if got := rec.next(t); got != launcher {
				t.Fatalf("OnExit got pid %d, want the launcher %d", got.Pid(), launcher.Pid())
			}
			a, err := m.Adopt("daemon", pid)
			if err != nil {
				t.Fatalf("Adopt: %v", err)
			}
			if err := a.KillTree(); err != nil {
				t.Fatal(err)
			}
			if got := rec.next(t); got != a || got.Exit().Signal != int(syscall.SIGKILL) {
				t.Fatalf("OnExit got pid %d (%v), want the adopted daemon %d killed", got.Pid(), got.Exit(), pid)
			}
			select {
			case got := <-rec.ch:
				t.Fatalf("unexpected OnExit(pid %d)", got.Pid())
			default:
			}
		})
	}
}
