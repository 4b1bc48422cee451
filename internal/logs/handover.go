package logs

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
)

// Detached is one stream handed off by Capture.Detach, to be attached again with
// Sink.AttachCarry, by this process or by the image it execs. Every field but File
// survives JSON; File travels as an inherited descriptor.
type Detached struct {
	Path    string  `json:"path"`    // the sink's log file
	Options Options `json:"options"` // the sink's rotation options, defaults filled in
	Stream  Stream  `json:"stream"`
	// File is the stream's read end, never read since Detach stopped reading it. On
	// Linux it is close-on-exec and non-blocking: clear FD_CLOEXEC to pass it through
	// exec, and keep File reachable until then (its finalizer closes it).
	File *os.File `json:"-"`
	// Carry is the partial line read but not yet written: the start of the stream's
	// next line. Empty when the last byte read was a newline.
	Carry []byte `json:"carry,omitempty"`
	// Tail is the run's tail the stream fed (nil when none): how the caller
	// tells which of its runs a stream belongs to, since File is a copy of the
	// descriptor it attached.
	Tail *Tail `json:"-"`
}

// Detach stops the capture without ending its streams, for a handover to another
// Capture (typically in the same process after exec). When it returns no stream is
// read any more; every whole line read is in its file; each stream's read end is open
// and returned with its partial line, sorted by path then stream; every sink is closed
// (its file too, Recent still answers, its Close returns ErrClosed); and the Capture is
// closed: Open, Attach, Close and Detach fail with ErrClosed. Streams whose sink was
// closed meanwhile are drained as Sink.Close does, and are not returned. The channels
// of the streams returned are never closed: their runs go on elsewhere.
//
// Elsewhere than Linux a stream is stopped through its read deadline; one whose file
// has no deadlines is closed and drained as by Capture.Close instead, and not returned.
func (c *Capture) Detach() ([]Detached, error) {
	// On ErrClosed (closed, or detached already) nothing is left to do; another error
	// means the capture had stopped on its own, and its sinks still need closing.
	sts, err := c.p.handoff()
	if errors.Is(err, ErrClosed) {
		return nil, err
	}
	c.mu.Lock()
	c.detached = true
	sinks := make([]*Sink, 0, len(c.sinks))
	for s := range c.sinks {
		sinks = append(sinks, s)
	}
	c.sinks = nil
	c.mu.Unlock()
	close(c.handedOff)
	for _, s := range sinks {
		if cerr := s.shut(); cerr != nil {
			// The lines are written: a failed close loses nothing the handover needs.
			c.logger.Warn("log file close failed at detach", "path", s.path, "err", cerr)
		}
	}

	out := make([]Detached, 0, len(sts))
	for _, st := range sts {
		out = append(out, Detached{
			Path:    st.sink.path,
			Options: st.sink.opts,
			Stream:  st.kind,
			File:    st.src.file(st.sink.path + " " + st.kind.String()),
			Carry:   st.carry,
			Tail:    st.tail,
		})
	}
	slices.SortFunc(out, func(a, b Detached) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Stream, b.Stream))
	})
	return out, err
}

// AttachCarry is AttachTail for a stream handed off by Capture.Detach: carry, the
// partial line the previous capture had read, becomes the start of the first line
// written, so that the line is neither torn nor duplicated. carry holds no newline and
// at most 64 KiB (as Detach returns it), else the error wraps ErrInvalid; it is copied.
func (s *Sink) AttachCarry(stream Stream, r *os.File, t *Tail, carry []byte) (<-chan struct{}, error) {
	return s.attach(stream, r, t, carry, true)
}

// checkCarry rejects a carry that the line writer could not hold as a partial line.
func checkCarry(carry []byte) error {
	if len(carry) > maxLine {
		return fmt.Errorf("%w: carry of %d bytes, at most %d", ErrInvalid, len(carry), maxLine)
	}
	if bytes.IndexByte(carry, '\n') >= 0 {
		return fmt.Errorf("%w: carry holds a newline", ErrInvalid)
	}
	return nil
}
