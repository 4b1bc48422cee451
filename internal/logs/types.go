// Package logs captures service output into rotated files with whole lines and bounded memory.
package logs

import "time"

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

// Line is one captured line.
type Line struct {
	Time   time.Time
	Stream Stream
	Text   string
}
