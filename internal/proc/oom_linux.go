package proc

import (
	"bytes"
	"strconv"
)

// oomKills reads the oom_kill count of the service's cgroup from memory.events,
// which exists when the memory controller is enabled for it (cgroup2). ok is
// false when the count cannot be read: then OOM kills are not detectable.
func (p *Process) oomKills() (n uint64, ok bool) {
	if p.cg == nil {
		return 0, false
	}
	var b []byte
	removed, err := p.cg.withFD(func(dirfd int) (err error) {
		b, err = readAt(dirfd, "memory.events")
		return err
	})
	if removed || err != nil {
		return 0, false
	}
	for line := range bytes.Lines(b) {
		if v, found := bytes.CutPrefix(bytes.TrimSpace(line), []byte("oom_kill ")); found {
			n, err := strconv.ParseUint(string(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// OOMKilled reports whether the kernel's OOM killer killed a process of the
// service's tree during this run. It is false where that is not detectable
// (no cgroup2 memory controller for the service).
func (p *Process) OOMKilled() bool {
	if !p.oomKnown {
		return false
	}
	n, ok := p.oomKills()
	return ok && n > p.oomBase
}
