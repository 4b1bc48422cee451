package journal

import "errors"

// Sentinel errors; callers test for them with errors.Is.
var (
	// ErrInvalid wraps every rejection of a bad argument (options, path).
	ErrInvalid = errors.New("journal: invalid argument")
	// ErrClosed is returned by Follow on a journal already closed.
	ErrClosed = errors.New("journal: closed")
	// ErrTooSlow ends a Follow whose reader fell so far behind that keeping up
	// would have meant holding back Record.
	ErrTooSlow = errors.New("journal: follower too slow, cut off")
)
