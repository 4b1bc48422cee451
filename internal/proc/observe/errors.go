package observe

import "errors"

// ErrInvalidPid: a pid that is not positive names no process.
var ErrInvalidPid = errors.New("invalid pid")
