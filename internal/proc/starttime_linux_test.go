package proc

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

func TestStartTime(t *testing.T) {
	own, err := observe.StartTime(os.Getpid())
	if err != nil || own == 0 {
		t.Fatalf("observe.StartTime(self) = %d, %v", own, err)
	}
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	up, err := strconv.ParseFloat(string(bytes.Fields(b)[0]), 64)
	if err != nil {
		t.Fatal(err)
	}
	if float64(own) > up*observe.ClockTicks+1 {
		t.Fatalf("observe.StartTime(self) = %d ticks, after the uptime %.2f s", own, up)
	}

	// A real process whose command name holds ") (" and spaces.
	link := filepath.Join(t.TempDir(), "a) b (c")
	if err := os.Symlink(helperExe(t), link); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, true)
	p := spawn(t, m, Spec{Name: "odd", Args: []string{link}, Env: []string{helperEnv + "=sleep"}})
	waitFor(t, "the odd command name", func() bool { return execed(p.Pid(), "a) b (c") })
	start, err := observe.StartTime(p.Pid())
	if err != nil || start < own {
		t.Fatalf("observe.StartTime(child) = %d, %v; want at least ours, %d", start, err, own)
	}
	if err := p.KillTree(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, p)

	if _, err := observe.StartTime(1<<31 - 1); !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("observe.StartTime(no such pid): %v, want os.ErrProcessDone", err)
	}
	if _, err := observe.StartTime(0); !errors.Is(err, ErrInvalidPid) {
		t.Fatalf("observe.StartTime(0): %v, want ErrInvalidPid", err)
	}
}
