package discover

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"regexp"
	"slices"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// matchArgs reports whether a command line, its arguments each ended by a
// NUL as the kernel gives them, matches re once joined by spaces. An empty
// one (a kernel thread, or one we may not read) never matches. A process that
// rewrote its argv as one string ("nginx: master process ...") has no inner
// NULs, so it reads as written.
func matchArgs(re *regexp.Regexp, args []byte) bool {
	args = bytes.TrimRight(args, "\x00")
	if len(args) == 0 {
		return false
	}
	return re.Match(bytes.ReplaceAll(args, []byte{0}, []byte{' '}))
}

// errProcargs: a kern.procargs2 buffer too short for what it says it holds.
var errProcargs = errors.New("malformed kern.procargs2")

// parseProcargs2 returns the arguments, each ended by a NUL, in what macOS's
// sysctl kern.procargs2 gives: argc as a 32-bit integer (little-endian on
// every Mac Go supports), the executable's path, NULs padding it, then argc
// arguments and the environment.
func parseProcargs2(b []byte) ([]byte, error) {
	if len(b) < 4 {
		return nil, errProcargs
	}
	argc := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	path := bytes.IndexByte(b, 0)
	if path < 0 {
		return nil, errProcargs
	}
	b = bytes.TrimLeft(b[path:], "\x00")
	end := 0
	for range argc {
		i := bytes.IndexByte(b[end:], 0)
		if i < 0 {
			return nil, errProcargs
		}
		end += i + 1
	}
	return b[:end], nil
}

// ancestors returns our own pid and those of our ancestors, whose command
// lines may well hold the pattern searched for.
func ancestors() map[int]bool {
	set := make(map[int]bool)
	for pid := os.Getpid(); pid > 0 && !set[pid]; {
		set[pid] = true
		st, ok := observe.Read(pid)
		if !ok {
			break
		}
		pid = st.Ppid
	}
	return set
}

// matching returns the pids, ascending, of the processes in all whose
// command line, as args reads it, matches re; it skips our ancestors and
// zombies. Processes come and go during the scan: one whose command line
// cannot be read is skipped.
func matching(re *regexp.Regexp, all []observe.Stat, args func(pid int) ([]byte, error)) []int {
	skip := ancestors()
	var pids []int
	for _, st := range all {
		if st.Pid <= 0 || skip[st.Pid] || st.State == 'Z' {
			continue
		}
		if a, err := args(st.Pid); err == nil && matchArgs(re, a) {
			pids = append(pids, st.Pid)
		}
	}
	slices.Sort(pids)
	return pids
}
