package logs

import (
	"bytes"
	"time"
)

// warnEvery limits write-failure warnings per sink: a full disk fails every write.
const warnEvery = 10 * time.Second

var newline = []byte{'\n'}

// writeChunk writes out, holding lines whole formatted lines, in as few writes as
// rotation allows; reads holds the offsets in out where the lines of each read begin.
// The file rotates only between reads, so the lines of one read always land in one
// file, even when they alone exceed MaxSize. Lines that cannot be written are counted
// as dropped; the caller goes on reading either way, so a service never blocks on our
// disk.
func (s *Sink) writeChunk(out []byte, lines int, reads []int) {
	s.fileMu.Lock()
	if s.fileDone {
		s.dropped.Add(uint64(lines))
		s.fileMu.Unlock()
		return
	}
	before := s.dropped.Load()
	s.writeChunkLocked(out, reads)
	// A spell of drops starts with the first chunk that loses lines and ends with the
	// first written whole: the disk has room again.
	lost := s.dropped.Load() > before
	var notify func()
	if lost != s.dropping {
		s.dropping = lost
		notify = s.onDrops
		if !lost {
			s.c.logger.Info("log writes resumed", "path", s.path, "dropped_total", s.dropped.Load())
		}
	}
	s.fileMu.Unlock()
	if notify != nil {
		notify()
	}
}

func (s *Sink) writeChunkLocked(out []byte, reads []int) {
	base := 0             // offset of out in the original buffer, to which reads refer
	rotateFailed := false // then the file grows past MaxSize rather than loop here
	for len(out) > 0 {
		if s.file == nil {
			if err := s.reopenLocked(); err != nil {
				s.dropLocked(bytes.Count(out, newline), err)
				return
			}
		}
		part := out
		if s.rotatable && !rotateFailed && s.size+int64(len(out)) > s.opts.MaxSize {
			part = s.fitLocked(out, reads, base)
			if part == nil {
				if err := s.rotateLocked(); err != nil {
					s.warnLocked("log rotation failed", err)
					rotateFailed = true
				}
				continue
			}
		}
		if !s.writeLocked(part) {
			s.dropLocked(bytes.Count(out[len(part):], newline), nil)
			return
		}
		out = out[len(part):]
		base += len(part)
	}
}

// fitLocked returns the longest run of whole reads at the start of out that fits in the
// current file, or nil when the file must rotate first. An empty file takes at least
// one read whatever its size.
func (s *Sink) fitLocked(out []byte, reads []int, base int) []byte {
	room := s.opts.MaxSize - s.size
	fit := 0
	for _, r := range reads {
		if off := r - base; off > 0 && off <= len(out) && int64(off) <= room {
			fit = off
		}
	}
	if fit > 0 {
		return out[:fit]
	}
	if s.size > 0 {
		return nil
	}
	for _, r := range reads {
		if off := r - base; off > 0 && off <= len(out) {
			return out[:off]
		}
	}
	return out
}

// writeLocked writes b, holding whole lines, and reports success. A failed write counts
// the lines it did not complete as dropped.
func (s *Sink) writeLocked(b []byte) bool {
	lost, err := s.writeLinesLocked(b)
	if err != nil {
		s.dropLocked(lost, err)
		return false
	}
	return true
}

func (s *Sink) dropLocked(lines int, err error) {
	total := s.dropped.Add(uint64(lines))
	if err != nil {
		s.warnLocked("log write failed, lines dropped", err, "dropped_total", total)
	}
}

func (s *Sink) warnLocked(msg string, err error, args ...any) {
	now := s.c.now()
	if !s.lastWarn.IsZero() && now.Sub(s.lastWarn) < warnEvery {
		return
	}
	s.lastWarn = now
	s.c.logger.Warn(msg, append([]any{"path", s.path, "err", err}, args...)...)
}
