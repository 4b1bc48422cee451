package proc

import (
	"errors"
	"os"
	"time"
)

// ErrUsageUnsupported is returned by Usage where the system offers no cheap
// way to measure a process tree: on Linux and FreeBSD it is measured; macOS
// tells a process's CPU time and memory only through libproc, which needs
// cgo.
var ErrUsageUnsupported = errors.New("process tree usage is not measured on this system")

// UsageOf is one process tree's usage, as Usage returns it.
type UsageOf struct {
	CPU time.Duration
	Mem uint64
	Err error
}

// Usages measures each of ps as Usage does (a nil entry gets
// os.ErrProcessDone), reading what they share once: in process-group mode
// on Linux a group's members are found only by reading every process, so N
// services measured one by one would read the whole table N times.
func Usages(ps []*Process) []UsageOf {
	out := make([]UsageOf, len(ps))
	totals := groupTotals(ps)
	for i, p := range ps {
		if p == nil {
			out[i].Err = os.ErrProcessDone
			continue
		}
		if totals != nil && p.measuredByGroup() {
			t, ok := totals[p.pgid]
			if !ok {
				out[i].Err = os.ErrProcessDone
				continue
			}
			out[i].CPU, out[i].Mem = t.cpu, t.mem
			continue
		}
		out[i].CPU, out[i].Mem, out[i].Err = p.Usage()
	}
	return out
}

// groupTotal is what the live members of one process group use.
type groupTotal struct {
	cpu time.Duration
	mem uint64
}

// measuredByGroup says whether Usage sums p's process group.
func (p *Process) measuredByGroup() bool {
	return p.watch == nil && p.cg == nil && !p.groupGone.Load()
}
