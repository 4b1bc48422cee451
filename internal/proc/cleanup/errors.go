package cleanup

import "errors"

// ErrLeftover: recorded processes outlived the wait for them to die.
var ErrLeftover = errors.New("processes of a previous instance are still running")
