package discover

import (
	"strings"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// InCgroup reports whether cgroup path is dir or below it.
func InCgroup(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// maxLineage bounds the walk up a process's parents: a tree deeper than this
// below a service's main process is not one a service builds.
const maxLineage = 64

// Descends reports whether pid is root itself, a descendant of root, or in
// root's process group (a descendant whose parent died and was re-parented to
// the subreaper keeps its group). It reads the processes' parents (observe)
// at the time of the call, so a process that has already been reaped is
// never one; where observe reads nothing, only root itself is.
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
