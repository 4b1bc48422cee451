package logs

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// Writer is a log file written in whole lines and rotated by size like a Sink's, for
// the supervisor's own log. A write that fails (a full disk) is dropped and counted,
// and the next write tries again: the writer never gives up. Its methods are safe for
// concurrent use.
type Writer struct {
	dropped atomic.Uint64

	mu       sync.Mutex // guards the fields below: the file and the drop spell
	f        logFile
	closed   bool
	dropping bool
	spell    uint64              // lines dropped in the current spell
	onRotate func(*os.File)      // called with each fresh file, under mu
	onDrops  func(dropping bool) // called, outside mu, when dropping changes
}

// OpenWriter returns the Writer appending to the file name in dir, creating it if
// needed; the file and its rotations are opened, renamed and removed only through
// dir, never following a symlink. onRotate, if not nil, is called with each file
// opened after a rotation (or a failed open), before anything is written to it; the
// Writer keeps ownership of the file.
func OpenWriter(dir Dir, name string, opts Options, onRotate func(*os.File)) (*Writer, error) {
	lf, err := openLogFile(dir, name, opts)
	if err != nil {
		return nil, err
	}
	return &Writer{f: lf, onRotate: onRotate}, nil
}

// Write writes p, which should hold whole lines (a last partial line is ended with a
// newline), rotating the file first when p would take it past MaxSize. It always
// returns len(p), nil: lines that cannot be written are counted (see Dropped) and the
// next Write tries again. After a spell of drops, the first lines written are
// preceded by one saying how many were lost.
func (w *Writer) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b := p
	if b[len(b)-1] != '\n' {
		b = append(b[:len(b):len(b)], '\n')
	}
	w.mu.Lock()
	if w.closed {
		w.dropped.Add(uint64(bytes.Count(b, newline)))
		w.mu.Unlock()
		return len(p), nil
	}
	lost := w.writeLocked(b)
	var notify func(bool)
	if (lost > 0) != w.dropping {
		w.dropping = lost > 0
		notify = w.onDrops
	}
	w.mu.Unlock()
	if notify != nil {
		notify(lost > 0)
	}
	return len(p), nil
}

// writeLocked writes b and returns how many of its lines were lost.
func (w *Writer) writeLocked(b []byte) int {
	lines := bytes.Count(b, newline)
	f := &w.f
	if f.file == nil {
		if err := f.reopenLocked(); err != nil {
			return w.dropLocked(lines)
		}
		w.rotatedLocked()
	}
	if f.rotatable && f.size > 0 && f.size+int64(len(b)) > f.opts.MaxSize {
		// This is the log a failure would be told in: a rotation that failed leaves
		// the file growing at whichever file could be opened, or none (the lines are
		// dropped and the next Write opens one).
		_ = f.rotateLocked()
		if f.file == nil {
			return w.dropLocked(lines)
		}
		w.rotatedLocked()
	}
	if w.spell > 0 {
		note := fmt.Appendf(nil, "respawn: %d lines of this log were dropped: writes failed\n", w.spell)
		if lost, err := f.writeLinesLocked(note); err != nil || lost > 0 {
			return w.dropLocked(lines)
		}
		w.spell = 0
	}
	lost, err := f.writeLinesLocked(b)
	if err != nil {
		return w.dropLocked(lost)
	}
	return 0
}

func (w *Writer) dropLocked(lines int) int {
	w.dropped.Add(uint64(lines))
	w.spell += uint64(lines)
	return lines
}

func (w *Writer) rotatedLocked() {
	if w.onRotate != nil && w.f.file != nil {
		w.onRotate(w.f.file)
	}
}

// OnDrops sets fn to be called each time the writer starts (true) or stops (false)
// dropping lines. It is called outside the writer's lock and must not block.
func (w *Writer) OnDrops(fn func(dropping bool)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.onDrops = fn
}

// Dropped returns how many lines could not be written.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Dropping reports whether the last write lost lines.
func (w *Writer) Dropping() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropping
}

// Path returns the path of the live log file.
func (w *Writer) Path() string { return w.f.path }

// Reopen closes the file and opens its path afresh (logrotate's move, then
// SIGUSR1): later lines go to a new file at the path, and onRotate is told of it.
// A failed open is retried by the next Write, as after any failed open.
func (w *Writer) Reopen() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.f.file != nil {
		_ = w.f.file.Close() // a failed close loses nothing written: each write was whole
		w.f.file = nil
	}
	if err := w.f.reopenLocked(); err != nil {
		return err
	}
	w.rotatedLocked()
	return nil
}

// Close closes the file; later writes are counted as dropped.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.f.file == nil {
		return nil
	}
	err := w.f.file.Close()
	w.f.file = nil
	if err != nil {
		return fmt.Errorf("logs: close log file: %w", err)
	}
	return nil
}
