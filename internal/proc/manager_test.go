//go:build linux

package proc

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestForget(t *testing.T) {
	eachMode(t, func(t *testing.T, m *Manager) {
		p := spawn(t, m, shSpec("doomed", "sleep 1007 & echo started; wait"))
		readLine(t, p.Stdout())
		var dir string
		if m.base != nil {
			dir = filepath.Join(m.base.path, "doomed")
			if _, err := os.Stat(dir); err != nil {
				t.Fatalf("service cgroup: %v", err)
			}
		}
		if err := m.Forget("doomed"); err != nil {
			t.Fatalf("Forget: %v", err)
		}
		if exit := waitDone(t, p); exit.Signal != int(syscall.SIGKILL) {
			t.Errorf("exit = %v, want killed", exit)
		}
		waitFor(t, "sleep 1007 to be gone", func() bool { return len(procsWithCmdline("sleep 1007")) == 0 })
		if dir != "" {
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("service cgroup still there after Forget: %v", err)
			}
		}
		if err := p.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("Signal after Forget: %v", err)
		}
		if err := m.Forget("doomed"); err != nil {
			t.Errorf("second Forget: %v", err)
		}
		// The name is usable again.
		if _, exit := run(t, m, shSpec("doomed", "exit 0")); exit.Code != 0 {
			t.Errorf("respawn after Forget: %v", exit)
		}
	})
}

func TestNeverTwoInstances(t *testing.T) {
	eachMode(t, func(t *testing.T, m *Manager) {
		first := spawn(t, m, shSpec("single", "sleep 1008 & echo started; wait"))
		readLine(t, first.Stdout())
		second := spawn(t, m, shSpec("single", "sleep 1009 & echo started; wait"))
		if exit := waitDone(t, first); exit.Signal != int(syscall.SIGKILL) {
			t.Errorf("first instance: %v, want killed", exit)
		}
		if line := readLine(t, second.Stdout()); line != "started" {
			t.Fatalf("second instance said %q; exit %v", line, waitDone(t, second))
		}
		if n := len(procsWithCmdline("sleep 1008")); n != 0 {
			t.Errorf("%d processes of the first instance survived", n)
		}
		waitFor(t, "the second instance's sleep", func() bool { return len(procsWithCmdline("sleep 1009")) == 1 })
		if err := second.KillTree(); err != nil {
			t.Fatal(err)
		}
		treeGone(t, second)
	})
}

// TestLeftoversOfCrashedRun: a new Manager with the same InstanceID kills what
// an earlier one (that never closed) left running.
func TestLeftoversOfCrashedRun(t *testing.T) {
	m1 := newManager(t, false)
	if m1.Containment() != ContainCgroup {
		t.Skip("cgroup containment unavailable here")
	}
	p := spawn(t, m1, shSpec("left", "setsid sleep 1011 & echo started; wait"))
	readLine(t, p.Stdout())
	id := strings.TrimPrefix(filepath.Base(m1.base.path), "respawn-")
	m2, err := NewManager(Options{InstanceID: id, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupManager(t, m2) })
	if m2.Containment() != ContainCgroup {
		t.Fatalf("second manager fell back to %s", m2.Containment())
	}
	if exit := waitDone(t, p); exit.Signal != int(syscall.SIGKILL) {
		t.Errorf("leftover main: %v, want killed", exit)
	}
	waitFor(t, "sleep 1011 to be gone", func() bool { return len(procsWithCmdline("sleep 1011")) == 0 })
	if _, err := os.Stat(filepath.Join(m2.base.path, "left")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover service cgroup not removed: %v", err)
	}
	if _, exit := run(t, m2, shSpec("left", "exit 0")); exit.Code != 0 {
		t.Errorf("spawn in the new manager: %v", exit)
	}
}

func TestClose(t *testing.T) {
	eachMode(t, func(t *testing.T, m *Manager) {
		run(t, m, shSpec("finished", "exit 0"))
		p := spawn(t, m, shSpec("running", "echo started; exec sleep 1012"))
		readLine(t, p.Stdout())
		if err := m.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if _, err := m.Spawn(shSpec("late", "exit 0")); !errors.Is(err, ErrClosed) {
			t.Errorf("Spawn after Close: %v", err)
		}
		if m.base != nil {
			if _, err := os.Stat(filepath.Join(m.base.path, "finished")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("empty cgroup kept: %v", err)
			}
			if _, err := os.Stat(filepath.Join(m.base.path, "running")); err != nil {
				t.Errorf("populated cgroup removed: %v", err)
			}
		}
		select {
		case <-p.Done():
			t.Fatal("Close killed a running process")
		default:
		}
		// The Process still works after Close.
		if err := p.KillTree(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		if err := p.WaitTreeGone(ctx); err != nil {
			t.Fatal(err)
		}
		if m.base != nil {
			// What Close had to leave is the caller's to remove.
			if err := p.cg.remove(); err != nil {
				t.Error(err)
			}
			if err := os.Remove(m.base.path); err != nil {
				t.Error(err)
			}
		}
	})
}
