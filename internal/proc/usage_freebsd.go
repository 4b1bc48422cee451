package proc

import (
	"fmt"
	"os"
	"time"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// Usage returns the CPU time used by the service's process tree and the
// memory it holds now, summed over the members of its process group (FreeBSD
// lists them: kern.proc.pgrp; members that left the group with setsid are
// not seen); for a watched process (WatchPid) they are its own. It returns
// os.ErrProcessDone once the tree is gone.
func (p *Process) Usage() (cpu time.Duration, memBytes uint64, err error) {
	var members []observe.Stat
	switch {
	case p.watch != nil:
		st, ok := observe.Read(p.pid)
		if p.reaped() || !ok {
			return 0, 0, os.ErrProcessDone
		}
		members = []observe.Stat{st}
	case p.groupGone.Load():
		return 0, 0, os.ErrProcessDone
	default:
		if members, err = observe.Group(p.pgid); err != nil {
			return 0, 0, fmt.Errorf("usage of %s (pid %d): %w", p.name, p.pid, err)
		}
		if len(members) == 0 {
			return 0, 0, os.ErrProcessDone
		}
	}
	var ticks uint64
	for _, st := range members {
		ticks += st.Ticks
		memBytes += st.RSS
	}
	return time.Duration(ticks) * (time.Second / observe.ClockTicks), memBytes, nil
}

// groupTotals has nothing to share: the kernel lists each group's members.
func groupTotals([]*Process) map[int]groupTotal { return nil }
