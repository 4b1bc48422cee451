package discover

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// FindByCmdline returns the pids, ascending, of the processes whose command
// line (arguments joined by spaces) matches re. It skips the supervisor itself
// and its ancestors (whose command lines may well hold the pattern), kernel
// threads (empty command line) and zombies.
func FindByCmdline(re *regexp.Regexp) ([]int, error) {
	if re == nil {
		return nil, errors.New("find by command line: no pattern")
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("find by command line: %w", err)
	}
	skip := ancestors()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 || skip[pid] {
			continue
		}
		// Processes come and go during the scan: one that vanished is skipped.
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if !matchArgs(re, cmdline) {
			continue
		}
		if st, ok := observe.Read(pid); !ok || st.State == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids, nil
}
