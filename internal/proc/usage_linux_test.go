//go:build linux

package proc

import (
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

// burner is a child of sh (so the tree, not just the main process, is
// measured) that touches 50 MB, burns 300 ms of CPU, then says so and waits.
const burner = `python3 -c '
import time, sys
b = b"x" * (50 << 20)
t = time.process_time()
while time.process_time() - t < 0.3:
    pass
print("ready", flush=True)
time.sleep(1000)
' & wait`

func TestUsageOfABusyTree(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3")
	}
	eachMode(t, func(t *testing.T, m *Manager) {
		p := spawn(t, m, shSpec("burner", burner))
		if got := readLine(t, p.Stdout()); got != "ready" {
			t.Fatalf("got %q", got)
		}
		cpu, mem, err := p.Usage()
		if err != nil {
			t.Fatalf("Usage: %v", err)
		}
		if cpu < 200*time.Millisecond || cpu > 60*time.Second {
			t.Errorf("cpu %v, want about 300ms", cpu)
		}
		if mem < 40<<20 || mem > 2<<30 {
			t.Errorf("memory %d bytes, want about 50 MB", mem)
		}
		cpu2, _, err := p.Usage()
		if err != nil || cpu2 < cpu {
			t.Errorf("second Usage: %v, %v; CPU time went back from %v", cpu2, err, cpu)
		}
		if err := p.KillTree(); err != nil {
			t.Fatal(err)
		}
		treeGone(t, p)
		if m.Containment() == ContainProcessGroup {
			if _, _, err := p.Usage(); !errors.Is(err, os.ErrProcessDone) {
				t.Errorf("Usage of a gone tree: %v, want os.ErrProcessDone", err)
			}
		}
	})
}

func TestParseUsageUsec(t *testing.T) {
	n, err := parseUsageUsec([]byte("usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n"))
	if err != nil || n != 123456 {
		t.Fatalf("%d, %v", n, err)
	}
	if _, err := parseUsageUsec([]byte("user_usec 1\n")); err == nil {
		t.Fatal("accepted cpu.stat without usage_usec")
	}
}
