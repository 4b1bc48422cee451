package journal

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// followBuffer is how many events a follower may lag behind Record before it is
// cut off: enough for bursts (a reload stopping hundreds of services), bounded so
// a stuck reader costs a fixed amount of memory.
const followBuffer = 1024

// subscriber is one live follower.
type subscriber struct {
	ch chan api.Event
	// from is the number of the last event recorded when it subscribed:
	// that one and those before are in its snapshot of the files.
	from uint64
	// err says why ch was closed; written before the close, read after it.
	err error
}

// cutLocked ends a follower: its Follow returns err once it has drained what
// was already queued.
func (j *Journal) cutLocked(s *subscriber, err error) {
	s.err = err
	close(s.ch)
	delete(j.subs, s)
}

// snapshot is the stored part of the journal at one instant.
type snapshot struct {
	files []*os.File // oldest first; the last one is the current file
	limit int64      // bytes of the last file that belong to the snapshot
}

func (s *snapshot) close() {
	for _, f := range s.files {
		f.Close()
	}
}

// Follow emits the stored events with Time >= since (all when since is zero),
// only the last n of them when n > 0, oldest first, across rotated files; a
// line that does not parse (torn by a crash, say) is skipped. Then, when
// follow is true, it emits every new event until ctx ends (returning its
// error), emit fails (returning that error), the follower falls too far
// behind (ErrTooSlow) or the journal closes (nil). No event is lost or
// repeated between the stored part and the live part. On a journal already
// closed it returns ErrClosed.
func (j *Journal) Follow(ctx context.Context, since time.Time, n int, follow bool, emit func(api.Event) error) error {
	if n < 0 {
		return fmt.Errorf("%w: n %d is negative", ErrInvalid, n)
	}
	snap, sub, err := j.snapshot(follow)
	if err != nil {
		return err
	}
	if sub != nil {
		defer j.unsubscribe(sub)
	}
	err = replay(ctx, snap, since, n, emit)
	snap.close()
	if err != nil || sub == nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-sub.ch:
			if !ok {
				return sub.err
			}
			if err := emit(e); err != nil {
				return err
			}
		}
	}
}

// snapshot opens every file of the journal and, when follow is true,
// subscribes, all under the lock: what is in the files up to limit is exactly
// what was recorded before the subscription. Open fds keep reading the right
// data even if rotation renames or removes the files afterwards.
func (j *Journal) snapshot(follow bool) (*snapshot, *subscriber, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil, nil, ErrClosed
	}
	snap, err := openSnapshot(j.path, j.log)
	if err != nil {
		return nil, nil, err
	}
	if !follow {
		return snap, nil, nil
	}
	sub := &subscriber{ch: make(chan api.Event, followBuffer), from: j.recorded}
	j.subs[sub] = struct{}{}
	return snap, sub, nil
}

// openSnapshot opens the journal at path and its rotated files, oldest
// first, and notes how much of the current file there is now.
func openSnapshot(path string, log *slog.Logger) (*snapshot, error) {
	snap := &snapshot{}
	var rotated []*os.File
	for i := 1; ; i++ {
		f, err := openRead(rotatedName(path, i))
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				log.Warn("event journal: skip unreadable rotated file", "err", err)
			}
			break
		}
		rotated = append(rotated, f)
	}
	for i := len(rotated) - 1; i >= 0; i-- {
		snap.files = append(snap.files, rotated[i])
	}
	cur, err := openRead(path)
	switch {
	case err == nil:
		fi, err := cur.Stat()
		if err != nil {
			cur.Close()
			snap.close()
			return nil, fmt.Errorf("journal: stat %s: %w", path, err)
		}
		snap.files = append(snap.files, cur)
		snap.limit = fi.Size()
	case errors.Is(err, fs.ErrNotExist):
		// Rotation failed to reopen: the rotated files are all there is.
		snap.limit = math.MaxInt64
	default:
		snap.close()
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	return snap, nil
}

// ReadFile emits the events stored in the journal file at path and its
// rotated predecessors, as Follow does without following: those with Time
// >= since (all when since is zero), only the last n when n > 0, oldest
// first. It needs no open Journal, so that the events of a supervisor that
// is not running can be read. A journal that does not exist holds no event.
func ReadFile(ctx context.Context, path string, since time.Time, n int, emit func(api.Event) error) error {
	if n < 0 {
		return fmt.Errorf("%w: n %d is negative", ErrInvalid, n)
	}
	snap, err := openSnapshot(path, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer snap.close()
	return replay(ctx, snap, since, n, emit)
}

func (j *Journal) unsubscribe(s *subscriber) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.subs[s]; ok {
		delete(j.subs, s)
		close(s.ch)
	}
}

// replay emits the snapshot's events that pass the since and n filters.
func replay(ctx context.Context, snap *snapshot, since time.Time, n int, emit func(api.Event) error) error {
	var last *ring
	if n > 0 {
		last = &ring{n: n}
	}
	for i, f := range snap.files {
		var r io.Reader = f
		if i == len(snap.files)-1 {
			r = io.LimitReader(f, snap.limit)
		}
		err := scan(ctx, r, func(e api.Event) error {
			if !since.IsZero() && e.Time.Before(since) {
				return nil
			}
			if last != nil {
				last.add(e)
				return nil
			}
			return emit(e)
		})
		if err != nil {
			return err
		}
	}
	if last != nil {
		return last.each(emit)
	}
	return nil
}

// maxLine bounds one stored line: a longer one cannot be an event we wrote
// (request bodies are capped well below), so it is skipped, not buffered.
const maxLine = 4 << 20

// scan parses r line by line, skipping lines that are not events.
func scan(ctx context.Context, r io.Reader, fn func(api.Event) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for count := 0; ; count++ {
		if count%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line, tooLong, err := readLine(br, buf[:0])
		buf = line
		if !tooLong && len(line) > 0 {
			var e api.Event
			if json.Unmarshal(line, &e) == nil && !e.Time.IsZero() {
				if ferr := fn(e); ferr != nil {
					return ferr
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("journal: read: %w", err)
		}
	}
}

// readLine appends the next line (without its newline) to buf; a line over
// maxLine is consumed but reported as tooLong.
func readLine(br *bufio.Reader, buf []byte) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) <= maxLine {
			buf = append(buf, chunk...)
		} else {
			tooLong = true
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(buf) > 0 && buf[len(buf)-1] == '\n' {
			buf = buf[:len(buf)-1]
		}
		return buf, tooLong, err
	}
}

// ring keeps the last n events seen.
type ring struct {
	n     int
	buf   []api.Event
	start int // index of the oldest event once buf is full
}

func (r *ring) add(e api.Event) {
	if len(r.buf) < r.n {
		r.buf = append(r.buf, e)
		return
	}
	r.buf[r.start] = e
	r.start = (r.start + 1) % r.n
}

func (r *ring) each(fn func(api.Event) error) error {
	for i := range r.buf {
		if err := fn(r.buf[(r.start+i)%len(r.buf)]); err != nil {
			return err
		}
	}
	return nil
}
