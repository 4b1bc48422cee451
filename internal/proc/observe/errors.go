package observe

import "errors"

// ErrInvalidPid: a pid that is not positive names no process.
var ErrInvalidPid = errors.New("invalid pid")

// ErrLayout: the kernel wrote its process records in a layout this build
// does not read (FreeBSD's kinfo_proc of another size).
var ErrLayout = errors.New("unknown kinfo_proc layout")
