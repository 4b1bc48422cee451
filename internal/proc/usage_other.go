//go:build !linux

package proc

import (
	"errors"
	"time"
)

// ErrUsageUnsupported is returned by Usage where the system offers no
// cheap way to measure a process tree.
var ErrUsageUnsupported = errors.New("process tree usage is measured only on Linux")

// Usage is not measured outside Linux.
func (p *Process) Usage() (cpu time.Duration, memBytes uint64, err error) {
	return 0, 0, ErrUsageUnsupported
}
