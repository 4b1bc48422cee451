package discover

import "errors"

// ErrBadPidfile: a pidfile's first line is not a positive integer.
var ErrBadPidfile = errors.New("pidfile does not hold a pid")
