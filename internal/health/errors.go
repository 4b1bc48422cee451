package health

import "errors"

var (
	// ErrDeadline means a readiness probe did not pass before its deadline.
	ErrDeadline = errors.New("readiness deadline passed")
	// ErrInvalid means a probe was given arguments it cannot run with.
	ErrInvalid = errors.New("invalid probe")
	// ErrWatchdog means a service sent no WATCHDOG=1 within its watchdog period.
	ErrWatchdog = errors.New("no watchdog ping")
)
