// Package journal keeps the supervisor's event journal: an append-only JSON-lines file, rotated by size, that can be read back and followed live.
package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/logs"
)

// warnEvery bounds how often write failures reach the log: a full disk must not
// turn every state change into a log line of its own.
const warnEvery = 10 * time.Second

// Journal is the event journal. Its methods are safe for concurrent use.
type Journal struct {
	path string
	opts Options
	log  *slog.Logger

	dropped atomic.Uint64

	mu sync.Mutex // leaf lock: guards everything below; held for one write(2) at most
	// file is the current file; nil when it could not be (re)opened, in which
	// case each Record tries again.
	file     *os.File
	size     int64
	closed   bool
	lastWarn time.Time
	subs     map[*subscriber]struct{}
	// recorded numbers the events recorded so far, in the order of the file;
	// sent is the last number whose events went to the followers. Events
	// held and not released yet wait in held, by number (see Hold).
	recorded, sent uint64
	held           map[uint64]*heldEvents
	// torn: a failed write left part of a line at the end of the file, which
	// could not be cut off at once; the next write cuts it first.
	torn bool
	// spell counts the events lost since writes last succeeded: the first
	// event written afterwards is preceded by one that says so.
	spell uint64
}

// Open opens (creating it 0600 if need be) the journal at path for appending.
func Open(path string, opts Options, log *slog.Logger) (*Journal, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty path", ErrInvalid)
	}
	opts, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	j := &Journal{path: path, opts: opts, log: log, subs: make(map[*subscriber]struct{}), held: make(map[uint64]*heldEvents)}
	if err := j.openLocked(); err != nil {
		return nil, err
	}
	return j, nil
}

// openLocked opens the current file. A file left by a crash may end in the
// middle of a line: it is ended first, so the next event starts a line of its own
// and only the torn one is lost.
func (j *Journal) openLocked() error {
	// Never through a symlink: the journal lives in a checked state dir, and
	// a link planted there must not turn an event into a write elsewhere.
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("journal: open %s: %w", j.path, err)
	}
	size, torn, err := tail(j.path)
	if err != nil {
		f.Close()
		return fmt.Errorf("journal: open %s: %w", j.path, err)
	}
	if torn {
		n, err := f.Write([]byte{'\n'})
		size += int64(n)
		if err != nil {
			f.Close()
			return fmt.Errorf("journal: end torn line in %s: %w", j.path, err)
		}
	}
	j.file, j.size = f, size
	return nil
}

// tail returns the size of the file at path and whether its last byte is not a newline.
func tail(path string) (size int64, torn bool, err error) {
	f, err := openRead(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	if !fi.Mode().IsRegular() {
		return 0, false, errors.New("not a regular file")
	}
	if fi.Size() == 0 {
		return 0, false, nil
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], fi.Size()-1); err != nil && !errors.Is(err, io.EOF) {
		return 0, false, err
	}
	return fi.Size(), last[0] != '\n', nil
}

// Record appends e to the journal and hands it to every follower. It sets
// e.Time to now (UTC) when it is zero. It never blocks on a follower and never
// syncs to disk; an event that cannot be written is counted (see Dropped) and
// still reaches followers.
func (j *Journal) Record(e api.Event) { j.Hold(e)() }

// Hold appends e to the journal as Record does, and holds it back from the
// followers until the release it returns is called. In between, the caller
// can make what the event announces visible elsewhere: a service publishes
// the state a transition event names, so that a follower that asks for the
// status when the event reaches it finds that state, while whoever sees the
// state finds the event in the file. Followers get events in the file's
// order: a release sends its events once every event held before them is
// released too. Each release is to be called once, promptly; one never
// called holds back the events after it until maxHeld are waiting.
func (j *Journal) Hold(e api.Event) (release func()) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	line, err := json.Marshal(e)
	if err != nil {
		// Only a time outside years 0..9999 gets here.
		j.dropped.Add(1)
		j.warn(fmt.Errorf("journal: encode event: %w", err))
		return func() {}
	}
	line = append(line, '\n')

	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		j.dropped.Add(1)
		return func() {}
	}
	var note *api.Event
	if j.spell > 0 {
		// Writes failed until now: say so first, in the file and to followers,
		// in the same write as e, so that a note never stands alone.
		note = &api.Event{Time: e.Time, Type: api.EventSupervisor, Reason: "event journal writes resumed",
			Message: fmt.Sprintf("%d events were not written: writes to %s failed", j.spell, j.path)}
		b, _ := json.Marshal(note) // e.Time encoded above: so does note's
		line = append(append(b, '\n'), line...)
	}
	h := &heldEvents{}
	if err := j.writeLocked(line); err != nil {
		h.events = j.failedLocked(e, err)
	} else {
		if note != nil {
			j.spell = 0
			h.events = append(h.events, *note)
		}
		h.events = append(h.events, e)
	}
	j.recorded++
	n := j.recorded
	j.held[n] = h
	j.sendReleasedLocked()
	return func() { j.release(n) }
}

// maxHeld bounds the events recorded and not yet sent: past it the oldest go
// to the followers released or not. Each service holds one event at a time.
const maxHeld = 4096

// heldEvents is what one Hold hands to the followers on its release.
type heldEvents struct {
	events   []api.Event
	released bool
}

func (j *Journal) release(n uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if h := j.held[n]; h != nil {
		h.released = true
	}
	j.sendReleasedLocked()
}

// sendReleasedLocked sends the held events in order, from the oldest, while
// they are released (or while more than maxHeld wait).
func (j *Journal) sendReleasedLocked() {
	for {
		h := j.held[j.sent+1]
		if h == nil || (!h.released && j.recorded-j.sent <= maxHeld) {
			return
		}
		delete(j.held, j.sent+1)
		j.sent++
		for _, e := range h.events {
			j.sendLocked(j.sent, e)
		}
	}
}

// failedLocked counts e as dropped and returns what followers get instead:
// e, after an announcement if it is the first of a spell of failures (the
// file cannot hold it).
func (j *Journal) failedLocked(e api.Event, err error) []api.Event {
	j.dropped.Add(1)
	j.warnLocked(err)
	j.spell++
	var out []api.Event
	if j.spell == 1 {
		out = append(out, api.Event{Time: e.Time, Type: api.EventSupervisor, Reason: "event journal writes failing",
			Message: fmt.Sprintf("events are not written until writes succeed again: %v", err)})
	}
	return append(out, e)
}

// sendLocked hands event number n to the followers that subscribed before
// it was recorded: those that subscribed later read it from the files,
// unless its write failed.
func (j *Journal) sendLocked(n uint64, e api.Event) {
	for s := range j.subs {
		if n <= s.from {
			continue
		}
		select {
		case s.ch <- e:
		default:
			j.cutLocked(s, ErrTooSlow)
		}
	}
}

// writeLocked writes whole lines with one write(2), rotating first when the line
// would take the file past MaxSize.
func (j *Journal) writeLocked(line []byte) error {
	if j.torn && j.file != nil {
		if err := j.file.Truncate(j.size); err != nil {
			return fmt.Errorf("journal: cut a torn line off %s: %w", j.path, err)
		}
		j.torn = false
	}
	var rotErr error
	if j.file != nil && j.size > 0 && j.size+int64(len(line)) > j.opts.MaxSize {
		rotErr = j.rotateLocked()
	}
	if j.file == nil {
		if err := j.openLocked(); err != nil {
			return errors.Join(rotErr, err)
		}
	}
	n, err := j.file.Write(line)
	if err != nil {
		if n > 0 {
			// A full disk took part of the line: cut it off, so that the file
			// holds whole events only and the next one starts a line of its own.
			// Cutting frees space, so it works even then; if not, the next
			// write tries again before anything else.
			j.torn = j.file.Truncate(j.size) != nil
		}
		return errors.Join(rotErr, fmt.Errorf("journal: write %s: %w", j.path, err))
	}
	j.size += int64(n)
	if rotErr != nil {
		j.warnLocked(rotErr) // the event itself was written
	}
	return nil
}

// rotateLocked shifts path.(N-1) → path.N … path → path.1 and opens a fresh
// file. Readers that opened the old files keep reading them through their fds.
func (j *Journal) rotateLocked() error {
	var errs []error
	if err := j.file.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close: %w", err))
	}
	j.file = nil
	if err := logs.Rotate(logs.PathDir(filepath.Dir(j.path)), filepath.Base(j.path), j.opts.MaxFiles); err != nil {
		errs = append(errs, err)
	}
	if err := j.openLocked(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("journal: rotate %s: %w", j.path, errors.Join(errs...))
	}
	return nil
}

// rotatedName returns the name of the i-th rotated file: path.1 is the newest.
// FileName is the journal's file in the state dir.
const FileName = "events.jsonl"

func rotatedName(path string, i int) string { return path + "." + strconv.Itoa(i) }

func (j *Journal) warn(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.warnLocked(err)
}

func (j *Journal) warnLocked(err error) {
	now := time.Now()
	if !j.lastWarn.IsZero() && now.Sub(j.lastWarn) < warnEvery {
		return
	}
	j.lastWarn = now
	j.log.Warn("event journal: events are being lost", "err", err, "dropped", j.dropped.Load())
}

// Dropped returns how many events could not be written to the file (they may
// still have reached followers), including those recorded after Close.
func (j *Journal) Dropped() uint64 { return j.dropped.Load() }

// Close closes the file and ends every Follow: a follower gets what was
// already queued for it, then its Follow returns nil, since the journal ending
// is the orderly end of the stream. Later Records are counted as dropped.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	for s := range j.subs {
		j.cutLocked(s, nil)
	}
	if j.file == nil {
		return nil
	}
	err := j.file.Close()
	j.file = nil
	if err != nil {
		return fmt.Errorf("journal: close %s: %w", j.path, err)
	}
	return nil
}

// openRead opens a journal file for reading, refusing a symlink.
func openRead(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}
