package proc

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParseStatStartTime(t *testing.T) {
	// A command name with spaces and both parentheses, as a program may choose.
	line := "4242 (a) 1 2 (b) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 987654321 1000000 25 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.start != 987654321 || st.state != 'S' || st.pgrp != 4242 {
		t.Fatalf("parseStat: start %d state %c pgrp %d, want 987654321 S 4242", st.start, st.state, st.pgrp)
	}
	bad := strings.Replace(line, "987654321", "x", 1)
	if _, err := parseStat([]byte(bad)); err == nil {
		t.Fatal("a start time that is no number: no error")
	}
}

func TestStartTime(t *testing.T) {
	own, err := StartTime(os.Getpid())
	if err != nil || own == 0 {
		t.Fatalf("StartTime(self) = %d, %v", own, err)
	}
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	up, err := strconv.ParseFloat(string(bytes.Fields(b)[0]), 64)
	if err != nil {
		t.Fatal(err)
	}
	if float64(own) > up*clockTicks+1 {
		t.Fatalf("StartTime(self) = %d ticks, after the uptime %.2f s", own, up)
	}

	// A real process whose command name holds ") (" and spaces.
	link := filepath.Join(t.TempDir(), "a) b (c")
	if err := os.Symlink(helperExe(t), link); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, true)
	p := spawn(t, m, Spec{Name: "odd", Args: []string{link}, Env: []string{helperEnv + "=sleep"}})
	waitFor(t, "the odd command name", func() bool { return execed(p.Pid(), "a) b (c") })
	start, err := StartTime(p.Pid())
	if err != nil || start < own {
		t.Fatalf("StartTime(child) = %d, %v; want at least ours, %d", start, err, own)
	}
	if err := p.KillTree(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, p)

	if _, err := StartTime(1<<31 - 1); !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("StartTime(no such pid): %v, want os.ErrProcessDone", err)
	}
	if _, err := StartTime(0); !errors.Is(err, ErrInvalidPid) {
		t.Fatalf("StartTime(0): %v, want ErrInvalidPid", err)
	}
}
