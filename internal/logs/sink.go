package logs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Sink is the log file of one service, fed by the streams attached to it. Its methods
// are safe for concurrent use.
type Sink struct {
	c       *Capture
	dropped atomic.Uint64
	recent  ring

	mu      sync.Mutex // guards closed and streams, the set of streams feeding this sink
	closed  bool
	streams []*attachment

	fileMu   sync.Mutex // guards the fields below: the open file and its rotation state
	logFile             // the file, its size and rotation
	fileDone bool       // Close has run: further chunks are dropped
	lastWarn time.Time
	dropping bool   // the last chunk lost lines: a chunk written whole ends the spell
	onDrops  func() // called, outside the locks, when dropping changes
}

// Dir is the directory a sink's files live in: every open, rename and remove
// is by a plain name relative to it, and never follows a symlink. A supervisor
// gives its checked state dir; Open uses the directory of a path.
type Dir interface {
	// OpenAppend opens name for appending, creating it with perm.
	OpenAppend(name string, perm os.FileMode) (*os.File, error)
	// Rename and Remove act on names in the dir; a missing name is an error
	// wrapping fs.ErrNotExist.
	Rename(oldname, newname string) error
	Remove(name string) error
	// Join returns the path of name, for messages.
	Join(name string) string
}

// Open returns the Sink writing to path, creating its directory (0700) and the file
// (0640) if needed and appending to what is there; a symlink at path is refused, not
// followed. One Sink per service: two Sinks on one path would rotate each other's files.
func (c *Capture) Open(path string, opts Options) (*Sink, error) {
	if c.isClosed() {
		return nil, ErrClosed
	}
	if path == "" {
		return nil, fmt.Errorf("%w: empty log path", ErrInvalid)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("logs: create log directory: %w", err)
	}
	return c.OpenIn(pathDir(filepath.Dir(path)), filepath.Base(path), opts)
}

// OpenIn is Open for the file name of dir: the file and its rotations are
// opened, renamed and removed only through dir.
func (c *Capture) OpenIn(dir Dir, name string, opts Options) (*Sink, error) {
	if c.isClosed() {
		return nil, ErrClosed
	}
	lf, err := openLogFile(dir, name, opts)
	if err != nil {
		return nil, err
	}
	s := &Sink{c: c, logFile: lf}
	if err := c.register(s); err != nil {
		lf.file.Close()
		return nil, err
	}
	return s, nil
}

// openLogFile checks name and opts and opens the log file name in dir.
func openLogFile(dir Dir, name string, opts Options) (logFile, error) {
	if name == "" || filepath.Base(name) != name {
		return logFile{}, fmt.Errorf("%w: log file name %q", ErrInvalid, name)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return logFile{}, err
	}
	f, size, regular, err := openLog(dir, name)
	if err != nil {
		return logFile{}, err
	}
	return logFile{dir: dir, name: name, path: dir.Join(name), opts: opts, file: f, size: size, rotatable: regular}, nil
}

// openLog opens name for appending and reports its size and whether it is a regular file.
func openLog(dir Dir, name string) (f *os.File, size int64, regular bool, err error) {
	f, err = dir.OpenAppend(name, 0o640)
	if err != nil {
		return nil, 0, false, fmt.Errorf("logs: open log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, false, fmt.Errorf("logs: stat log file: %w", err)
	}
	return f, fi.Size(), fi.Mode().IsRegular(), nil
}

// PathDir returns the Dir named by path, for callers without an open
// directory: names in it are joined to path.
func PathDir(path string) Dir { return pathDir(path) }

// pathDir is a Dir named by its path, for callers without an open directory.
type pathDir string

func (d pathDir) OpenAppend(name string, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(d.Join(name), os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, perm)
}
func (d pathDir) Rename(oldname, newname string) error {
	return os.Rename(d.Join(oldname), d.Join(newname))
}
func (d pathDir) Remove(name string) error { return os.Remove(d.Join(name)) }
func (d pathDir) Join(name string) string  { return filepath.Join(string(d), name) }

// Attach captures r as the given stream of this sink until r reaches EOF (or the sink or
// the capture is closed), then writes the last partial line, closes r and closes the
// returned channel: once it is closed, every line is in the file. Attach returns at
// once. It takes ownership of r in every case: r is closed even when an error is
// returned. r must be pollable (a pipe, socket or terminal), else the error wraps
// ErrNotPollable. On Linux the read end is switched to non-blocking mode, which other
// holders of the same open file description see too.
func (s *Sink) Attach(stream Stream, r *os.File) (<-chan struct{}, error) {
	return s.attach(stream, r, nil, nil, false)
}

// AttachTail is Attach, and every line captured from r is also added to t, which the
// stdout and stderr attachments of one run may share. Once the returned channel is
// closed, t holds r's last partial line too. A nil t is the same as Attach.
func (s *Sink) AttachTail(stream Stream, r *os.File, t *Tail) (<-chan struct{}, error) {
	return s.attach(stream, r, t, nil, false)
}

// attach hands r to the capture; inherited marks a stream another capture read before.
func (s *Sink) attach(stream Stream, r *os.File, t *Tail, carry []byte, inherited bool) (<-chan struct{}, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: nil file", ErrInvalid)
	}
	if stream != Stdout && stream != Stderr {
		r.Close()
		return nil, fmt.Errorf("%w: stream %d", ErrInvalid, stream)
	}
	if err := checkCarry(carry); err != nil {
		r.Close()
		return nil, err
	}
	src, err := newSource(r)
	if err != nil {
		return nil, err
	}
	st := &attachment{sink: s, kind: stream, src: src, tail: t, inherited: inherited, done: make(chan struct{})}
	if len(carry) > 0 {
		// A copy: the caller's slice must not change under the capture loop.
		st.carry = appendCarry(nil, carry)
	}
	// s.mu is held across the hand-over so that Close sees either no stream or one the
	// capture already knows about.
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		src.close()
		return nil, ErrClosed
	}
	if err := s.c.p.attach(st); err != nil {
		src.close()
		return nil, err
	}
	s.streams = append(s.streams, st)
	return st.done, nil
}

// forget drops a finished stream from the sink's set.
func (s *Sink) forget(st *attachment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.streams, st); i >= 0 {
		s.streams = slices.Delete(s.streams, i, i+1)
	}
}

// Recent returns up to the last n lines captured, oldest first, from memory: at most 64
// lines and 8 KiB of text, each line cut to 512 bytes (the file keeps it whole).
func (s *Sink) Recent(n int) []Line {
	return s.recent.last(n)
}

// Dropped returns how many lines could not be written to the file.
func (s *Sink) Dropped() uint64 {
	return s.dropped.Load()
}

// Dropping reports whether the last lines written were dropped: writes fail (a full
// disk) and have not succeeded since.
func (s *Sink) Dropping() bool {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	return s.dropping
}

// OnDrops sets fn to be called each time the sink starts or stops dropping lines (see
// Dropping). It is called from the capture's goroutine, outside the sink's locks, and
// must not block.
func (s *Sink) OnDrops(fn func()) {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	s.onDrops = fn
}

// Path returns the path of the live log file.
func (s *Sink) Path() string {
	return s.path
}

// Reopen closes the log file and opens its path afresh, so that after an outside
// rotation (logrotate moves the file, then signals) new lines go to a new file at the
// path. Lines already written stay in the moved file. A failed open is retried on the
// next write, as after any failed open; Reopen reports it.
func (s *Sink) Reopen() error {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	if s.fileDone {
		return ErrClosed
	}
	if s.file != nil {
		err := s.file.Close()
		s.file = nil
		if err != nil {
			s.warnLocked("close log file", err)
		}
	}
	return s.reopenLocked()
}

// Close detaches the streams still attached, draining them as Capture.Close does, then
// closes the log file. Recent still answers afterwards. A second Close, or a Close after
// Capture.Detach (which closed the sink), returns ErrClosed.
func (s *Sink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	streams := slices.Clone(s.streams)
	s.mu.Unlock()

	s.c.p.detach(streams)
	for _, st := range streams {
		select {
		case <-st.done:
		case <-s.c.handedOff:
		}
	}
	s.c.unregister(s)
	return s.closeFile()
}

// shut closes the sink for Detach: its streams were handed off, not drained.
func (s *Sink) shut() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil // a Sink.Close in progress closes the file
	}
	s.closed = true
	s.streams = nil
	s.mu.Unlock()
	return s.closeFile()
}

func (s *Sink) closeFile() error {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	s.fileDone = true
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	if err != nil {
		return fmt.Errorf("logs: close log file: %w", err)
	}
	return nil
}
