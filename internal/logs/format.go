package logs

import (
	"bytes"
	"fmt"
	"time"
)

// On-disk form of a line: "<time> <out|err> <text>\n", the time fixed-width UTC with
// microseconds so that files sort and cut by column.
const (
	timeLayout = "2006-01-02T15:04:05.000000Z"
	timeLen    = len(timeLayout)
	prefixLen  = timeLen + len(" out ")
)

// appendPrefix appends "<time> <out|err> " to dst. The capture path calls it once per
// read and copies the result in front of every line of that read.
func appendPrefix(dst []byte, t time.Time, s Stream) []byte {
	dst = t.UTC().AppendFormat(dst, timeLayout)
	if s == Stderr {
		return append(dst, " err "...)
	}
	return append(dst, " out "...)
}

// FormatLine appends the on-disk form of l, newline included, to dst. The time is written
// in UTC truncated to the microsecond; years outside 0000–9999 do not fit the fixed width
// and will not parse back. Any Stream other than Stderr is written as "out". l.Text is
// written verbatim, so a Text holding a newline yields more than one physical line:
// capture never produces such a Line.
func FormatLine(dst []byte, l Line) []byte {
	dst = appendPrefix(dst, l.Time, l.Stream)
	dst = append(dst, l.Text...)
	return append(dst, '\n')
}

// ParseLine parses one line in the form FormatLine writes; a single trailing newline is
// optional. Errors wrap ErrMalformedLine.
func ParseLine(b []byte) (Line, error) {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	if len(b) < prefixLen {
		return Line{}, fmt.Errorf("%w: %d bytes, shorter than the %d-byte prefix", ErrMalformedLine, len(b), prefixLen)
	}
	if b[timeLen] != ' ' || b[prefixLen-1] != ' ' {
		return Line{}, fmt.Errorf("%w: fields not separated by single spaces", ErrMalformedLine)
	}
	t, ok := parseTime(b[:timeLen])
	if !ok {
		return Line{}, fmt.Errorf("%w: time %q is not of the form %s", ErrMalformedLine, b[:timeLen], timeLayout)
	}
	var s Stream
	switch string(b[timeLen+1 : prefixLen-1]) {
	case "out":
		s = Stdout
	case "err":
		s = Stderr
	default:
		return Line{}, fmt.Errorf("%w: stream %q is neither out nor err", ErrMalformedLine, b[timeLen+1:prefixLen-1])
	}
	text := b[prefixLen:]
	if bytes.IndexByte(text, '\n') >= 0 {
		return Line{}, fmt.Errorf("%w: more than one line", ErrMalformedLine)
	}
	return Line{Time: t, Stream: s, Text: string(text)}, nil
}

// parseTime parses exactly the form timeLayout describes. time.Parse is more lenient
// (a comma for the decimal point, for one), and readers parse whole files of these.
func parseTime(b []byte) (time.Time, bool) {
	if len(b) != timeLen {
		return time.Time{}, false
	}
	for i, c := range []byte(timeLayout) {
		if c >= '0' && c <= '9' {
			if b[i] < '0' || b[i] > '9' {
				return time.Time{}, false
			}
		} else if b[i] != c {
			return time.Time{}, false
		}
	}
	num := func(from, to int) int {
		n := 0
		for _, c := range b[from:to] {
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), time.Month(num(5, 7)), num(8, 10)
	hour, minute, sec, micro := num(11, 13), num(14, 16), num(17, 19), num(20, 26)
	if hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, month, day, hour, minute, sec, micro*1000, time.UTC)
	// time.Date normalises out-of-range dates (February 30th); such input is malformed.
	if y, m, d := t.Date(); y != year || m != month || d != day {
		return time.Time{}, false
	}
	return t, true
}
