package proc

import (
	"bufio"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/proc/cleanup"
	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// bgSpec starts a background sleep (whose pid it prints) next to script, in
// the same process group.
func bgSpec(name, script string) Spec {
	return shSpec(name, "sleep 1060 & echo $!; "+script)
}

// readPids reads n lines of pids from p's stdout.
func readPids(t *testing.T, p *Process, n int) []int {
	t.Helper()
	if err := p.Stdout().SetReadDeadline(time.Now().Add(deadline)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(p.Stdout())
	pids := make([]int, n)
	for i := range pids {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: read pid: %v", p.name, err)
		}
		if pids[i], err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
			t.Fatalf("%s printed %q", p.name, line)
		}
	}
	return pids
}

func startTime(t *testing.T, pid int) uint64 {
	t.Helper()
	st, err := observe.StartTime(pid)
	if err != nil {
		t.Fatalf("observe.StartTime(%d): %v", pid, err)
	}
	return st
}

// deadOrZombie reports whether pid has ended (its parent may not have reaped
// it yet).
func deadOrZombie(pid int) bool {
	st, _, _, err := procStat(pid)
	return err != nil || st == 'Z'
}

func TestKillRecorded(t *testing.T) {
	m := newManager(t, true)

	// The leader is recorded and alive: its group goes, unrecorded members too.
	a := spawn(t, m, bgSpec("a", "exec sleep 1061"))
	aBg := readPids(t, a, 1)[0]

	// The leader has gone, its members have not: the group id cannot belong to
	// anyone else, so the group goes.
	b := spawn(t, m, bgSpec("b", "sleep 1062 & echo $!; exit 0"))
	bBgs := readPids(t, b, 2)
	bBg1, bBg2 := bBgs[0], bBgs[1]
	waitDone(t, b)

	// The leader runs but was not recorded: its group is not touched, the
	// recorded member is killed alone.
	c := spawn(t, m, bgSpec("c", "exec sleep 1063"))
	cBg := readPids(t, c, 1)[0]

	// A start time that differs says the pid was reused: nothing is touched.
	d := spawn(t, m, bgSpec("d", "exec sleep 1064"))
	dBg := readPids(t, d, 1)[0]

	gone := spawn(t, m, shSpec("gone", "exit 0"))
	waitDone(t, gone)

	recs := []cleanup.Record{
		{Pid: a.Pid(), Pgid: a.Pid(), Start: startTime(t, a.Pid())},
		{Pid: bBg1, Pgid: b.Pid(), Start: startTime(t, bBg1)},
		{Pid: cBg, Pgid: c.Pid(), Start: startTime(t, cBg)},
		{Pid: d.Pid(), Pgid: d.Pid(), Start: startTime(t, d.Pid()) + 1},
		{Pid: gone.Pid(), Pgid: gone.Pid(), Start: 1},
		{Pid: os.Getpid(), Pgid: syscall.Getpgrp(), Start: startTime(t, os.Getpid())},
		{Pid: 0, Pgid: 5},
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	killed, err := cleanup.KillRecorded(ctx, recs)
	if !errors.Is(err, ErrInvalidPid) || errors.Is(err, ErrLeftover) {
		t.Errorf("KillRecorded: %v, want only the bad record reported", err)
	}
	if killed != 3 {
		t.Errorf("killed %d, want 3 (a, b's recorded member, c's recorded member)", killed)
	}
	for what, pid := range map[string]int{"a": a.Pid(), "a's member": aBg, "b's recorded member": bBg1, "b's other member": bBg2, "c's recorded member": cBg} {
		if !deadOrZombie(pid) {
			t.Errorf("%s (pid %d) survived", what, pid)
		}
	}
	for what, pid := range map[string]int{"c's unrecorded leader": c.Pid(), "d": d.Pid(), "d's member": dBg} {
		if deadOrZombie(pid) {
			t.Errorf("%s (pid %d) was killed", what, pid)
		}
	}
	if e := waitDone(t, a); e.Signal != int(syscall.SIGKILL) {
		t.Errorf("a: %v, want killed", e)
	}

	if n, err := cleanup.KillRecorded(ctx, nil); n != 0 || err != nil {
		t.Errorf("cleanup.KillRecorded(nil) = %d, %v", n, err)
	}
}
