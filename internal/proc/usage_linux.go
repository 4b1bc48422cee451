package proc

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// ErrUsageUnsupported is returned by Usage where the system offers no cheap
// way to measure a process tree; never on Linux.
var ErrUsageUnsupported = errors.New("process tree usage is measured only on Linux")

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100
// on every Linux architecture Go supports.
const clockTicks = 100

// Usage returns the CPU time used by the service's whole process tree and
// the memory it holds now. In cgroup mode both come from the service's
// cgroup (cpu.stat's usage_usec, which counts exited processes too, and
// memory.current, else the RSS of every member); in process-group mode they
// are summed over the live members of the group; for a watched process
// (WatchPid) they are its own. It returns
// os.ErrProcessDone once the tree is gone.
func (p *Process) Usage() (cpu time.Duration, memBytes uint64, err error) {
	if p.watch != nil {
		cpu, memBytes, err = p.watchedUsage()
	} else if p.cg != nil {
		cpu, memBytes, err = p.cgroupUsage()
	} else {
		cpu, memBytes, err = p.groupUsage()
	}
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		err = fmt.Errorf("usage of %s (pid %d): %w", p.name, p.pid, err)
	}
	return cpu, memBytes, err
}

func (p *Process) cgroupUsage() (time.Duration, uint64, error) {
	var cpu time.Duration
	var mem uint64
	var haveMem bool
	removed, err := p.cg.withFD(func(dirfd int) error {
		b, err := readSmall(dirfd, "cpu.stat")
		if err != nil {
			return &fs.PathError{Op: "read", Path: filepath.Join(p.cg.path, "cpu.stat"), Err: err}
		}
		usec, err := parseUsageUsec(b)
		if err != nil {
			return err
		}
		cpu = time.Duration(usec) * time.Microsecond
		// memory.current exists only where the memory controller is enabled
		// for the service's cgroup.
		b, err = readSmall(dirfd, "memory.current")
		if err == nil {
			mem, err = strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
			if err != nil {
				return fmt.Errorf("memory.current: %w", err)
			}
			haveMem = true
		} else if !errors.Is(err, unix.ENOENT) {
			return &fs.PathError{Op: "read", Path: filepath.Join(p.cg.path, "memory.current"), Err: err}
		}
		return nil
	})
	if removed {
		return 0, 0, os.ErrProcessDone
	}
	if err != nil {
		return 0, 0, err
	}
	if !haveMem {
		pids, err := p.cg.procs()
		if err != nil {
			return 0, 0, err
		}
		for _, pid := range pids {
			if st, ok := readStat(pid); ok {
				mem += st.rss
			}
		}
	}
	return cpu, mem, nil
}

// watchedUsage measures a watched process alone: it is not ours, nor is
// its tree.
func (p *Process) watchedUsage() (time.Duration, uint64, error) {
	if p.reaped() {
		return 0, 0, os.ErrProcessDone
	}
	st, ok := readStat(p.pid)
	if !ok {
		return 0, 0, os.ErrProcessDone
	}
	return time.Duration(st.ticks) * (time.Second / clockTicks), st.rss, nil
}

// groupUsage sums over the processes whose process group is the service's.
// Members that left the group (setsid) are not seen: that is what cgroup
// mode is for.
func (p *Process) groupUsage() (time.Duration, uint64, error) {
	if p.groupGone.Load() {
		return 0, 0, os.ErrProcessDone
	}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0, err
	}
	var ticks, mem uint64
	found := false
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		st, ok := readStat(pid)
		if !ok || st.pgrp != p.pgid {
			continue
		}
		found = true
		ticks += st.ticks
		mem += st.rss
	}
	if !found {
		return 0, 0, os.ErrProcessDone
	}
	return time.Duration(ticks) * (time.Second / clockTicks), mem, nil
}

// stat is what Usage needs from /proc/PID/stat.
type stat struct {
	state   byte // R, S, D, Z, ...
	ppid    int
	pgrp    int
	session int
	// ticks are the process's own CPU time plus that of the children it
	// has waited for, so that short-lived descendants count too.
	ticks uint64
	rss   uint64 // bytes
	// start is when the process started, in clock ticks since boot.
	start uint64
}

var pageSize = uint64(os.Getpagesize())

// readStat reads /proc/PID/stat; ok is false when the process is gone.
func readStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	st, err := parseStat(b)
	return st, err == nil
}

// parseStat reads the fields after the command name, which may itself hold
// spaces and parentheses: it ends at the last ')'.
func parseStat(b []byte) (stat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, errors.New("stat: no command name")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state) of proc(5): field N is f[N-3].
	if len(f) < 22 {
		return stat{}, fmt.Errorf("stat: %d fields after the command name", len(f))
	}
	var st stat
	st.state = f[0][0]
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return stat{}, fmt.Errorf("stat ppid: %w", err)
	}
	st.ppid = ppid
	pgrp, err := strconv.Atoi(string(f[2]))
	if err != nil {
		return stat{}, fmt.Errorf("stat pgrp: %w", err)
	}
	st.pgrp = pgrp
	if st.session, err = strconv.Atoi(string(f[3])); err != nil {
		return stat{}, fmt.Errorf("stat session: %w", err)
	}
	for _, n := range []int{11, 12, 13, 14} { // utime stime cutime cstime
		v, err := strconv.ParseInt(string(f[n]), 10, 64)
		if err != nil {
			return stat{}, fmt.Errorf("stat field %d: %w", n+3, err)
		}
		if v > 0 {
			st.ticks += uint64(v)
		}
	}
	if st.start, err = strconv.ParseUint(string(f[19]), 10, 64); err != nil {
		return stat{}, fmt.Errorf("stat starttime: %w", err)
	}
	rss, err := strconv.ParseInt(string(f[21]), 10, 64)
	if err != nil {
		return stat{}, fmt.Errorf("stat rss: %w", err)
	}
	if rss > 0 {
		st.rss = uint64(rss) * pageSize
	}
	return st, nil
}

func parseUsageUsec(b []byte) (uint64, error) {
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("usage_usec ")); ok {
			n, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("cpu.stat usage_usec: %w", err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("cpu.stat has no usage_usec line: %q", b)
}

// readSmall reads a control file relative to dirfd whole; cpu.stat can
// outgrow readAt's single small read.
func readSmall(dirfd int, name string) ([]byte, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 4096)
	for len(buf) < cap(buf) {
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
		buf = buf[:len(buf)+n]
	}
	return buf, nil
}
