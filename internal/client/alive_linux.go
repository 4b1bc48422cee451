package client

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// processAlive reports whether pid is a live process (a zombie has died)
// that started no later than locked, when the lock file named it: a process
// that started afterwards reuses the pid of a keeper that died.
func processAlive(pid int, locked time.Time) bool {
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
	if start, ok := startTime(f[19]); ok && start.After(locked.Add(2*time.Second)) {
		return false
	}
	return true
}

// startTime turns /proc/PID/stat's starttime (clock ticks after boot, at
// USER_HZ 100) into a time; the boot time is whole seconds, hence the
// caller's slack.
func startTime(ticks []byte) (time.Time, bool) {
	t, err := strconv.ParseUint(string(ticks), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	st, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for line := range bytes.SplitSeq(st, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			boot, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(boot, 0).Add(time.Duration(t) * 10 * time.Millisecond), true
		}
	}
	return time.Time{}, false
}
