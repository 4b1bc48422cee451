// Package logs captures service output into rotated files with whole lines and bounded memory.
package logs

import (
	"fmt"
	"time"
)

// Stream tells stdout from stderr.
type Stream uint8

// The two captured streams.
const (
	Stdout Stream = 1
	Stderr Stream = 2
)

// String returns "stdout" or "stderr".
func (s Stream) String() string {
	if s == Stderr {
		return "stderr"
	}
	return "stdout"
}

// MarshalText returns "stdout" or "stderr", so that JSON names the stream; any other
// value is an error wrapping ErrInvalid.
func (s Stream) MarshalText() ([]byte, error) {
	switch s {
	case Stdout, Stderr:
		return []byte(s.String()), nil
	}
	return nil, fmt.Errorf("%w: stream %d", ErrInvalid, s)
}

// UnmarshalText accepts "stdout" or "stderr"; anything else is an error wrapping
// ErrInvalid.
func (s *Stream) UnmarshalText(text []byte) error {
	switch string(text) {
	case "stdout":
		*s = Stdout
	case "stderr":
		*s = Stderr
	default:
		return fmt.Errorf("%w: stream %q", ErrInvalid, text)
	}
	return nil
}

// Line is one captured line.
type Line struct {
	Time   time.Time
	Stream Stream
	Text   string
}
