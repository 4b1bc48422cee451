package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, which Linux fixes at 100 on every architecture
// this runs on; /proc/PID/stat reports utime and stime in it.
const clockTicks = 100

// procStat holds the fields of /proc/PID/stat the bench uses.
type procStat struct {
	state      byte
	ppid       int
	utime      uint64 // clock ticks
	stime      uint64 // clock ticks
	startTicks uint64
}

// errGone marks a process that exited while it was being read.
var errGone = errors.New("process gone")

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return procStat{}, fmt.Errorf("stat of %d: %w", pid, errGone)
		}
		return procStat{}, fmt.Errorf("stat of %d: %w", pid, err)
	}
	// comm may hold spaces and parentheses; the fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return procStat{}, fmt.Errorf("stat of %d: malformed", pid)
	}
	f := strings.Fields(string(b[i+2:]))
	// f[0] is field 3 (state); utime is field 14, stime 15, starttime 22.
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("stat of %d: %d fields", pid, len(f))
	}
	var s procStat
	s.state = f[0][0]
	nums := []struct {
		dst *uint64
		idx int
	}{{&s.utime, 11}, {&s.stime, 12}, {&s.startTicks, 19}}
	for _, n := range nums {
		v, err := strconv.ParseUint(f[n.idx], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("stat of %d: field %d: %w", pid, n.idx+3, err)
		}
		*n.dst = v
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("stat of %d: ppid: %w", pid, err)
	}
	s.ppid = ppid
	return s, nil
}

// processTable maps every live PID to its parent.
func processTable() (map[int]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	parent := make(map[int]int, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		s, err := readStat(pid)
		if err != nil {
			continue // exited meanwhile
		}
		parent[pid] = s.ppid
	}
	return parent, nil
}

// descendants lists every process below root (root excluded).
func descendants(root int) ([]int, error) {
	parent, err := processTable()
	if err != nil {
		return nil, err
	}
	children := make(map[int][]int)
	for pid, pp := range parent {
		children[pp] = append(children[pp], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out, nil
}

func exePath(pid int) string {
	p, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return ""
	}
	return p
}

// ownProcesses is root plus every descendant running the same executable
// for a second or more: the supervisor's own processes, without the services
// it runs, nor a child caught between its fork and its exec (a python
// supervisord's, or respawn's, runs the supervisor's executable for that
// moment, then is gone or a service).
func ownProcesses(root int) ([]int, error) {
	exe := exePath(root)
	if exe == "" {
		return nil, fmt.Errorf("executable of %d: %w", root, errGone)
	}
	ds, err := descendants(root)
	if err != nil {
		return nil, err
	}
	up, err := uptimeTicks()
	if err != nil {
		return nil, err
	}
	out := []int{root}
	for _, d := range ds {
		if exePath(d) != exe {
			continue
		}
		if ranSecond(d, up) {
			out = append(out, d)
		}
	}
	return out, nil
}

// ranSecond reports whether process pid started a second or more before up
// (clock ticks since boot); false if it is gone.
func ranSecond(pid int, up uint64) bool {
	st, err := readStat(pid)
	return err == nil && up-st.startTicks >= clockTicks
}

// uptimeTicks is the time since boot in clock ticks, as /proc/PID/stat's
// start times count it.
func uptimeTicks() (uint64, error) {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("/proc/uptime: %q", b)
	}
	secs, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/uptime: %w", err)
	}
	return uint64(secs * clockTicks), nil
}

// usage is the resource use of a set of processes at one moment.
type usage struct {
	ticks    uint64 // utime+stime, clock ticks
	runNanos uint64 // scheduler run time over every thread, ns
	switches uint64 // voluntary+involuntary context switches over every thread
	pssKB    uint64
}

func (u usage) cpuSeconds() float64 { return float64(u.ticks) / clockTicks }

func measure(pids []int) (usage, error) {
	var u usage
	for _, pid := range pids {
		s, err := readStat(pid)
		if err != nil {
			return u, err
		}
		u.ticks += s.utime + s.stime
		pss, err := pssKB(pid)
		if err != nil {
			return u, err
		}
		u.pssKB += pss
		run, sw, err := threadCounters(pid)
		if err != nil {
			return u, err
		}
		u.runNanos += run
		u.switches += sw
	}
	return u, nil
}

func pssKB(pid int) (uint64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, fmt.Errorf("smaps_rollup of %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("smaps_rollup of %d: %w", pid, err)
			}
			return n, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("smaps_rollup of %d: %w", pid, err)
	}
	return 0, fmt.Errorf("smaps_rollup of %d: no Pss line", pid)
}

// threadCounters sums scheduler run time (ns, far finer than the 10 ms
// ticks of /proc/PID/stat) and context switches over the threads of pid.
func threadCounters(pid int) (runNanos, switches uint64, err error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("threads of %d: %w", pid, err)
	}
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(t, "schedstat"))
		if err != nil {
			continue // thread exited meanwhile
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			if v, err := strconv.ParseUint(f[0], 10, 64); err == nil {
				runNanos += v
			}
		}
		st, err := os.ReadFile(filepath.Join(t, "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(st), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
				if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
					switches += n
				}
			}
		}
	}
	return runNanos, switches, nil
}
