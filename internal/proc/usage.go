package proc

import "errors"

// ErrUsageUnsupported is returned by Usage where the system offers no cheap
// way to measure a process tree: on Linux and FreeBSD it is measured; macOS
// tells a process's CPU time and memory only through libproc, which needs
// cgo.
var ErrUsageUnsupported = errors.New("process tree usage is not measured on this system")
