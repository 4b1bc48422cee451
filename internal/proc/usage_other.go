//go:build !linux && !freebsd

package proc

import "time"

// Usage is not measured here: it returns ErrUsageUnsupported.
func (p *Process) Usage() (cpu time.Duration, memBytes uint64, err error) {
	return 0, 0, ErrUsageUnsupported
}

// groupTotals has nothing to share: each Usage is on its own.
func groupTotals([]*Process) map[int]groupTotal { return nil }
