package observe

import (
	"golang.org/x/sys/unix"

	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// Of reads /proc/PID/stat, telling a missing process (os.ErrProcessDone)
// from an unreadable or malformed file.
func Of(pid int) (Stat, error) {
	if pid <= 0 {
		return Stat{}, ErrInvalidPid
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	// A process that ends while its file is read makes the read fail with ESRCH.
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return Stat{}, os.ErrProcessDone
	}
	if err != nil {
		return Stat{}, err
	}
	return Parse(b)
}

// Read reads /proc/PID/stat; ok is false when the process is gone.
func Read(pid int) (Stat, bool) {
	b, err := readStat(pid)
	if err != nil {
		return Stat{}, false
	}
	st, err := Parse(b)
	return st, err == nil
}

// readStat reads /proc/PID/stat with plain system calls: a status of a
// thousand services reads a thousand of them, and os.ReadFile would also
// try (and fail) to register each with the runtime's poller.
func readStat(pid int) ([]byte, error) {
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	// A stat line is a few hundred bytes (the command name is at most 16).
	buf := make([]byte, 1024)
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m == 0 {
			return buf[:n], nil
		}
		n += m
	}
	// Longer than ever seen: read it whole.
	return os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
}

// Parse reads the fields after the command name, which may itself hold
// spaces and parentheses: it ends at the last ')'.
func Parse(b []byte) (Stat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, errors.New("stat: no command name")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state) of proc(5): field N is f[N-3].
	if len(f) < 22 {
		return Stat{}, fmt.Errorf("stat: %d fields after the command name", len(f))
	}
	var st Stat
	// The pid before the name; the name between the first '(' and the last ')'.
	open := bytes.IndexByte(b, '(')
	if open < 0 || open > i {
		return Stat{}, errors.New("stat: no command name")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return Stat{}, fmt.Errorf("stat pid: %w", err)
	}
	st.Pid = pid
	st.Comm = string(b[open+1 : i])
	st.State = f[0][0]
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return Stat{}, fmt.Errorf("stat ppid: %w", err)
	}
	st.Ppid = ppid
	pgrp, err := strconv.Atoi(string(f[2]))
	if err != nil {
		return Stat{}, fmt.Errorf("stat pgrp: %w", err)
	}
	st.Pgrp = pgrp
	if st.Session, err = strconv.Atoi(string(f[3])); err != nil {
		return Stat{}, fmt.Errorf("stat session: %w", err)
	}
	for _, n := range []int{11, 12, 13, 14} { // utime stime cutime cstime
		v, err := strconv.ParseInt(string(f[n]), 10, 64)
		if err != nil {
			return Stat{}, fmt.Errorf("stat field %d: %w", n+3, err)
		}
		if v > 0 {
			st.Ticks += uint64(v)
		}
	}
	if st.Start, err = strconv.ParseUint(string(f[19]), 10, 64); err != nil {
		return Stat{}, fmt.Errorf("stat starttime: %w", err)
	}
	rss, err := strconv.ParseInt(string(f[21]), 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("stat rss: %w", err)
	}
	if rss > 0 {
		st.RSS = uint64(rss) * PageSize
	}
	return st, nil
}
