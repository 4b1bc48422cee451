package proc

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/respawn-sh/respawn/internal/proc/observe"
	"golang.org/x/sys/unix"
)

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

// cpuTime returns the CPU time the cgroup has counted, 0 when it cannot be
// read.
func (c *cgroupDir) cpuTime() time.Duration {
	var cpu time.Duration
	buf := make([]byte, smallFile)
	_, _ = c.withFD(func(dirfd int) error {
		b, err := readSmall(dirfd, "cpu.stat", buf)
		if err != nil {
			return err
		}
		usec, err := parseUsageUsec(b)
		cpu = time.Duration(usec) * time.Microsecond
		return err
	})
	return cpu
}

func (p *Process) cgroupUsage() (time.Duration, uint64, error) {
	var cpu time.Duration
	var mem uint64
	var haveMem, listed bool
	var memberPids []int
	// One buffer for the files read: each is parsed before the next.
	buf := make([]byte, smallFile)
	removed, err := p.cg.withFD(func(dirfd int) error {
		b, err := readSmall(dirfd, "cpu.stat", buf)
		if err != nil {
			return &fs.PathError{Op: "read", Path: filepath.Join(p.cg.path, "cpu.stat"), Err: err}
		}
		usec, err := parseUsageUsec(b)
		if err != nil {
			return err
		}
		cpu = max(time.Duration(usec)*time.Microsecond-p.cpuBase, 0)
		// memory.current exists only where the memory controller is enabled
		// for the service's cgroup.
		err = unix.ENOENT
		if !p.cg.noMemory.Load() {
			b, err = readSmall(dirfd, "memory.current", buf)
		}
		if err == nil {
			mem, err = strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
			if err != nil {
				return fmt.Errorf("memory.current: %w", err)
			}
			haveMem = true
		} else if errors.Is(err, unix.ENOENT) {
			p.cg.noMemory.Store(true)
		} else {
			return &fs.PathError{Op: "read", Path: filepath.Join(p.cg.path, "memory.current"), Err: err}
		}
		if !haveMem {
			// Without the memory controller: the RSS of every member. A
			// cgroup with no sub-cgroup (the usual case) lists them all
			// in its own cgroup.procs; no need to walk a folder of
			// control files.
			if b, err := readSmall(dirfd, "cgroup.stat", buf); err == nil && bytes.Contains(b, []byte("nr_descendants 0\n")) {
				// A full buffer may have cut the list: then walk.
				if b, err := readSmall(dirfd, "cgroup.procs", buf); err == nil && len(b) < len(buf) {
					memberPids = parsePids(b)
					listed = true
				}
			}
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
		if !listed {
			if memberPids, err = p.cg.procs(); err != nil {
				return 0, 0, err
			}
		}
		for _, pid := range memberPids {
			if st, ok := observe.Read(pid); ok {
				mem += st.RSS
			}
		}
	}
	return cpu, mem, nil
}

// parsePids reads a cgroup.procs: one pid a line.
func parsePids(b []byte) []int {
	var pids []int
	for f := range strings.FieldsSeq(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// watchedUsage measures a watched process alone: it is not ours, nor is
// its tree.
func (p *Process) watchedUsage() (time.Duration, uint64, error) {
	if p.reaped() {
		return 0, 0, os.ErrProcessDone
	}
	st, ok := observe.Read(p.pid)
	if !ok {
		return 0, 0, os.ErrProcessDone
	}
	return time.Duration(st.Ticks) * (time.Second / observe.ClockTicks), st.RSS, nil
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
		st, ok := observe.Read(pid)
		if !ok || st.Pgrp != p.pgid {
			continue
		}
		found = true
		ticks += st.Ticks
		mem += st.RSS
	}
	if !found {
		return 0, 0, os.ErrProcessDone
	}
	return time.Duration(ticks) * (time.Second / observe.ClockTicks), mem, nil
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

// smallFile is the most readSmall reads of a control file.
const smallFile = 4096

// readSmall reads a control file relative to dirfd into buf, whole up to
// buf's length; cpu.stat can outgrow readAt's single small read.
func readSmall(dirfd int, name string, buf []byte) ([]byte, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	buf = buf[:0]
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

// groupTotals reads every process once and sums each process group's that
// one of ps is measured by; nil when none is.
func groupTotals(ps []*Process) map[int]groupTotal {
	want := make(map[int]bool)
	for _, p := range ps {
		if p != nil && p.measuredByGroup() {
			want[p.pgid] = true
		}
	}
	if len(want) < 2 {
		return nil // one group: Usage reads the table once anyway
	}
	all, err := observe.All()
	if err != nil {
		return nil
	}
	out := make(map[int]groupTotal, len(want))
	for _, st := range all {
		if !want[st.Pgrp] {
			continue
		}
		t := out[st.Pgrp]
		t.cpu += time.Duration(st.Ticks) * (time.Second / observe.ClockTicks)
		t.mem += st.RSS
		out[st.Pgrp] = t
	}
	return out
}
