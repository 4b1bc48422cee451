package cleanup

import "errors"

// ErrLeftover: recorded processes outlived the wait for them to die.
var ErrLeftover = errors.New("processes of a previous instance are still running")

// ErrPidReused: a signal sent without a pidfd may have reached a process
// that took a recorded pid after the recorded process ended.
var ErrPidReused = errors.New("the pid was reused as it was signalled")
