//go:build unix

package metrics

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// collectProcess adds the process's CPU time and descriptor limit, and
// where /proc has them (Linux), its memory and open descriptors.
func collectProcess(e *exposition) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		e.add(famProcCPU, cpu.Seconds())
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		e.add(famMaxFDs, float64(lim.Cur))
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		e.add(famOpenFDs, float64(len(fds)))
	}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		// size resident shared ..., in pages.
		f := strings.Fields(string(b))
		if len(f) >= 2 {
			page := float64(os.Getpagesize())
			if size, err := strconv.ParseUint(f[0], 10, 64); err == nil {
				e.add(famVSize, float64(size)*page)
			}
			if rss, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				e.add(famRSS, float64(rss)*page)
			}
		}
	}
}
