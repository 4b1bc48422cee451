//go:build amd64 || arm64 || riscv64

// FreeBSD alone calls decodeKinfos; it is built on every 64-bit system so
// that tests elsewhere read records laid out as FreeBSD writes them.

package observe

import (
	"fmt"
	"unsafe"
)

// kinfoProc mirrors struct kinfo_proc of FreeBSD's sys/user.h (12 and later)
// on 64-bit systems, down to the fields respawn reads; the others are kept
// as padding of their size.
type kinfoProc struct {
	Structsize int32
	Layout     int32
	_          [8]uint64 // ki_args ... ki_wchan: kernel addresses
	Pid        int32
	Ppid       int32
	Pgid       int32
	Tpgid      int32
	Sid        int32
	Tsid       int32
	_          [2]int16 // ki_jobc, spare
	_          uint32   // ki_tdev_freebsd11
	_          [4][4]uint32
	_          [5]uint32 // uids and gids
	_          [2]int16  // ki_ngroups, spare
	_          [16]uint32
	_          uint64 // ki_size
	Rssize     int64  // pages
	_          [4]int64
	_          [2]uint16
	_          [5]uint32
	Runtime    uint64 // CPU time, microseconds
	Start      timeval
	Childtime  timeval // CPU time of the children waited for
	_          [2]int64
	_          int32 // ki_traceflag
	Stat       int8
	_          [5]int8
	_          [17 + 9 + 18 + 9]byte // ki_tdname, ki_wmesg, ki_login, ki_lockname
	Comm       [20]byte
	_          [17 + 18 + 4 + 46]byte // ki_emul ... ki_sparestrings
	_          [2]int32
	_          uint64 // ki_tdev
	_          [9]int32
	_          [4]uint8     // ki_pri
	_          [2][18]int64 // ki_rusage, ki_rusage_ch
	_          [10]uint64
	_          [12]int64
	_          [2]int64
}

type timeval struct{ Sec, Usec int64 }

// kinfoProcSize is KINFO_PROC_SIZE; the array sizes fail to compile if the
// mirror is not exactly that long.
const kinfoProcSize = 1088

var (
	_ [kinfoProcSize - unsafe.Sizeof(kinfoProc{})]byte
	_ [unsafe.Sizeof(kinfoProc{}) - kinfoProcSize]byte
)

// decodeKinfos reads the kinfo_procs of a kern.proc sysctl; boot is the
// boottime in microseconds since the epoch.
func decodeKinfos(b []byte, boot int64) ([]Stat, error) {
	out := make([]Stat, 0, len(b)/kinfoProcSize)
	for len(b) > 0 {
		if len(b) < kinfoProcSize {
			return nil, fmt.Errorf("kinfo_proc: %d bytes left, want %d", len(b), kinfoProcSize)
		}
		var k kinfoProc
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&k)), kinfoProcSize), b)
		// The kernel says which layout it wrote: another one is not read.
		if k.Structsize != kinfoProcSize {
			return nil, fmt.Errorf("kinfo_proc of %d bytes, want %d: %w", k.Structsize, kinfoProcSize, ErrLayout)
		}
		b = b[kinfoProcSize:]
		cpu := k.Runtime + uint64(k.Childtime.Sec)*1e6 + uint64(k.Childtime.Usec)
		st := Stat{
			Pid:     int(k.Pid),
			State:   freebsdState(k.Stat),
			Ppid:    int(k.Ppid),
			Pgrp:    int(k.Pgid),
			Session: int(k.Sid),
			Ticks:   cpu / (1e6 / ClockTicks),
			Comm:    cString(k.Comm[:]),
		}
		if k.Rssize > 0 {
			st.RSS = uint64(k.Rssize) * PageSize
		}
		if start := k.Start.Sec*1e6 + k.Start.Usec - boot; start > 0 {
			st.Start = uint64(start)
		}
		out = append(out, st)
	}
	return out, nil
}

// freebsdState turns ki_stat into the letter Linux would show.
func freebsdState(s int8) byte {
	switch s {
	case 1, 2: // SIDL (being forked), SRUN
		return 'R'
	case 3: // SSLEEP
		return 'S'
	case 4: // SSTOP
		return 'T'
	case 5: // SZOMB
		return 'Z'
	case 6: // SWAIT: an interrupt thread waiting for work
		return 'S'
	case 7: // SLOCK: blocked on a lock
		return 'D'
	}
	return '?'
}
