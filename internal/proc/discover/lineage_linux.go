package discover

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// maxLineage bounds the walk up a process's parents: a tree deeper than this
// below a service's main process is not one a service builds.
const maxLineage = 64

// Descends reports whether pid is root itself, a descendant of root, or in
// root's process group (a descendant whose parent died and was re-parented to
// the subreaper keeps its group). It reads /proc at the time of the call, so
// a process that has already been reaped is never one.
func Descends(pid, root int) bool {
	if pid <= 0 || root <= 0 {
		return false
	}
	for p, i := pid, 0; p > 1 && i < maxLineage; i++ {
		if p == root {
			return true
		}
		st, ok := observe.Read(p)
		if !ok {
			return false
		}
		if i == 0 && st.Pgrp == root {
			return true
		}
		p = st.Ppid
	}
	return false
}

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
