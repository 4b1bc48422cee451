package observe

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// macOS's kinfo_proc carries no CPU time nor resident memory (only
// proc_pid_rusage in libproc does): Ticks and RSS are 0 here. Start is the
// fork time in microseconds since the epoch, which the kernel stores once.

// Of reads pid's kinfo_proc (sysctl kern.proc.pid), telling a missing
// process (os.ErrProcessDone) from a failed read.
func Of(pid int) (Stat, error) {
	if pid <= 0 {
		return Stat{}, ErrInvalidPid
	}
	ks, err := unix.SysctlKinfoProcSlice("kern.proc.pid", pid)
	if errors.Is(err, unix.ESRCH) || (err == nil && len(ks) == 0) {
		return Stat{}, os.ErrProcessDone
	}
	if err != nil {
		return Stat{}, fmt.Errorf("sysctl kern.proc.pid.%d: %w", pid, err)
	}
	return fromKinfo(&ks[0]), nil
}

// list reads a kern.proc table: "kern.proc.all", or "kern.proc.pgrp" and
// a group.
func list(name string, args ...int) ([]Stat, error) {
	ks, err := unix.SysctlKinfoProcSlice(name, args...)
	if err != nil {
		return nil, fmt.Errorf("sysctl %s: %w", name, err)
	}
	out := make([]Stat, len(ks))
	for i := range ks {
		out[i] = fromKinfo(&ks[i])
	}
	return out, nil
}

func fromKinfo(k *unix.KinfoProc) Stat {
	pid := int(k.Proc.P_pid)
	st := Stat{
		Pid:   pid,
		State: stateLetter(int(k.Proc.P_stat)),
		Ppid:  int(k.Eproc.Ppid),
		Pgrp:  int(k.Eproc.Pgid),
		Start: uint64(k.Proc.P_starttime.Sec)*1e6 + uint64(k.Proc.P_starttime.Usec),
		Comm:  cString(k.Proc.P_comm[:]),
	}
	// kinfo_proc holds the session as a kernel address only.
	if sid, err := unix.Getsid(pid); err == nil {
		st.Session = sid
	}
	return st
}

// StartedAt turns a Stat's Start into the time the process started.
func StartedAt(st Stat) (time.Time, error) { return time.UnixMicro(int64(st.Start)), nil }

// stateLetter turns p_stat into the letter Linux would show.
func stateLetter(s int) byte {
	switch s {
	case 1, 2: // SIDL (being forked), SRUN
		return 'R'
	case 3: // SSLEEP
		return 'S'
	case 4: // SSTOP
		return 'T'
	case 5: // SZOMB
		return 'Z'
	}
	return '?'
}

// allTable is the kern.proc sysctl that lists every process once.
const allTable = "kern.proc.all"
