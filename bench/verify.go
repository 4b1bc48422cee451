package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/respawn-sh/respawn/bench/internal/lines"
)

// stampLog is what a stamp file says about a run of restarts.
type stampLog struct {
	starts int
	gaps   []time.Duration // next start − previous exit
	// overlaps counts a start with no exit before it (two instances at
	// once, or an instance killed between its two writes).
	overlaps int
	bad      int // lines that are neither "start N" nor "exit N"
}

func parseStamps(data []byte) stampLog {
	var s stampLog
	var lastExit int64
	haveExit, running := false, false
	for _, line := range bytes.Split(data, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		kind, num, ok := bytes.Cut(line, []byte{' '})
		ns, err := strconv.ParseInt(string(num), 10, 64)
		if !ok || err != nil {
			s.bad++
			continue
		}
		switch string(kind) {
		case "start":
			s.starts++
			if running {
				s.overlaps++
			}
			if haveExit && !running {
				s.gaps = append(s.gaps, time.Duration(ns-lastExit))
			}
			running, haveExit = true, false
		case "exit":
			lastExit, haveExit, running = ns, true, false
		default:
			s.bad++
		}
	}
	return s
}

// captureCheck is the verdict on a captured log of numbered lines.
type captureCheck struct {
	ok      int // lines in order and intact
	lost    int // numbers never seen
	dup     int // numbers seen again or out of order
	corrupt int // lines that are not a numbered line
	other   int // prefixed lines from a stream other than stdout
}

// bad counts the lines that make the capture wrong.
func (c captureCheck) bad() int { return c.lost + c.dup + c.corrupt }

func (c captureCheck) String() string {
	return fmt.Sprintf("%d ok, %d lost, %d duplicated or out of order, %d corrupt", c.ok, c.lost, c.dup, c.corrupt)
}

// checkCapture reads a log that should hold lines 0..n-1 exactly once and
// in order. With prefixed set each line is "<time> <stream> <text>" and
// only the "out" stream counts.
func checkCapture(r io.Reader, n int, prefixed bool) (captureCheck, error) {
	var c captureCheck
	br := bufio.NewReaderSize(r, 1<<20)
	next := 0
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// Far longer than any numbered line: corrupt; skip to its end.
			c.corrupt++
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			if err == nil {
				continue
			}
		}
		if len(line) > 0 && err == nil {
			text := line[:len(line)-1]
			if prefixed {
				var stream []byte
				var ok bool
				text, stream, ok = cutPrefix(text)
				if !ok {
					c.corrupt++
					continue
				}
				if string(stream) != "out" {
					c.other++
					continue
				}
			}
			num, ok := lines.Number(text)
			switch {
			case !ok:
				c.corrupt++
			case num == next:
				c.ok++
				next++
			case num > next && num < n:
				c.lost += num - next
				c.ok++
				next = num + 1
			default:
				c.dup++
			}
		} else if len(line) > 0 {
			c.corrupt++ // a last line without its newline
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return c, fmt.Errorf("read capture: %w", err)
		}
	}
	c.lost += n - next
	return c, nil
}

// cutPrefix splits "<time> <stream> <text>" into text and stream.
func cutPrefix(line []byte) (text, stream []byte, ok bool) {
	_, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return nil, nil, false
	}
	stream, text, ok = bytes.Cut(rest, []byte{' '})
	return text, stream, ok
}
