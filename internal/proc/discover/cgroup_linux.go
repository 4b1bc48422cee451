package discover

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// CgroupOf returns pid's cgroup2 path, as /proc/PID/cgroup's "0::" line gives it.
func CgroupOf(pid int) (string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", err
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if path, ok := bytes.CutPrefix(line, []byte("0::")); ok {
			return string(path), nil
		}
	}
	return "", fmt.Errorf("pid %d: no cgroup2 entry in /proc/%d/cgroup", pid, pid)
}
