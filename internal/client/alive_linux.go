package client

import (
	"bytes"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// processAlive reports whether pid is a live process (a zombie has died)
// that is the lock's holder: one whose start time is start, when the lock
// file says it, else one that started no later than locked, when the lock
// file was written. A process that started afterwards reuses the pid of a
// keeper that died. The start time is exact; the second test depends on the
// wall clock, which may have been set since.
func processAlive(pid int, start uint64, locked time.Time) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the fields after the last parenthesis, from the state.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 {
		return false
	}
	switch f[0][0] {
	case 'Z', 'X', 'x':
		return false
	}
	if start != 0 {
		return string(f[19]) == strconv.FormatUint(start, 10)
	}
	if at, ok := startTime(f[19]); ok && at.After(locked.Add(2*time.Second)) {
		return false
	}
	return true
}

// startTime turns /proc/PID/stat's starttime (clock ticks after boot, at
// USER_HZ 100) into a time. The boot time is now less the time since boot
// (CLOCK_BOOTTIME, which counts what starttime counts): what /proc/stat's
// btime says, to the second, without the kernel writing out every CPU's
// counters to say it. The caller's slack covers the ticks' resolution.
func startTime(ticks []byte) (time.Time, bool) {
	t, err := strconv.ParseUint(string(ticks), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	var up unix.Timespec
	now := time.Now()
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &up); err != nil {
		return time.Time{}, false
	}
	boot := now.Add(-time.Duration(up.Nano()))
	return boot.Add(time.Duration(t) * 10 * time.Millisecond), true
}
