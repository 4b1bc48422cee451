package logs

import "errors"

// Sentinel errors; callers test for them with errors.Is.
var (
	// ErrClosed is returned when a Capture or Sink is used after Close.
	ErrClosed = errors.New("logs: closed")
	// ErrInvalid wraps every rejection of a bad argument (options, stream, nil file, path).
	ErrInvalid = errors.New("logs: invalid argument")
	// ErrMalformedLine wraps every ParseLine failure.
	ErrMalformedLine = errors.New("logs: malformed line")
	// ErrNotPollable is returned by Attach for a file that cannot be watched for
	// readiness (a regular file, for instance): only pipes, sockets and ttys can be captured.
	ErrNotPollable = errors.New("logs: file cannot be polled")
)
