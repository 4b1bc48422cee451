package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// followEvery is how often a follower looks for new lines where it cannot be told of
// them (no inotify, or its folder's watch is gone). Polling costs a stat and a read per
// follower per tick, and followers exist only while a user follows a log (`respawn
// logs -f`, a foreground `up`, top, the dashboard), never otherwise: the capture itself
// neither polls nor waits on readers.
const followEvery = 200 * time.Millisecond

// FollowFile emits the lines written to the log file at path from now on, in order, until
// ctx ends (then it returns nil) or emit fails (then it returns emit's error). It keeps
// up across rotation, finishing the old file before reading the new one from its start,
// and across restarts of the service, which append to the same file. A file that does
// not exist yet is waited for.
func FollowFile(ctx context.Context, path string, emit func(Line) error) error {
	fl, err := OpenFollower(path)
	if err != nil {
		return err
	}
	defer fl.Close()
	return fl.Follow(ctx, emit)
}

// Follower reads a log file from the position it had when the Follower was opened:
// History gives the lines before that position, Follow those after it, so that the two
// together miss no line and repeat none. A Follower is used by one goroutine at a time.
type Follower struct {
	path  string
	f     *os.File // the file being read; nil until path exists
	off   int64    // next byte of f to read
	carry []byte   // a line read in part: its end is not written yet
	last  time.Time
}

// OpenFollower opens the log file at path and marks its end, less any last line still
// being written. A missing file is no error: its lines will be followed from its start.
func OpenFollower(path string) (*Follower, error) {
	fl := &Follower{path: path}
	f, err := openRead(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fl, nil
	}
	if err != nil {
		return nil, fmt.Errorf("logs: follow %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("logs: follow %s: %w", path, err)
	}
	off, err := lastLineEnd(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("logs: follow %s: %w", path, err)
	}
	fl.f, fl.off = f, off
	return fl, nil
}

// lastLineEnd returns the offset just past the last newline before end (looking back at
// most maxReadLine bytes, else end itself), so that a line half written is read whole
// later rather than in two parts now.
func lastLineEnd(f *os.File, end int64) (int64, error) {
	var buf [4096]byte
	for pos := end; pos > 0 && end-pos < maxReadLine; {
		k := min(int64(len(buf)), pos)
		if _, err := f.ReadAt(buf[:k], pos-k); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:k], '\n'); i >= 0 {
			return pos - k + int64(i) + 1, nil
		}
		pos -= k
	}
	if end <= maxReadLine {
		return 0, nil // no newline at all: the only line is still being written
	}
	return end, nil
}

// History returns the last n lines (all when n <= 0) at or after since that were
// written before the Follower was opened, across rotated files too, as ReadFile does.
func (fl *Follower) History(since time.Time, n int) ([]Line, error) {
	lines, err := readHistory(fl.path, fl.f, fl.off, since, n)
	if err == nil && len(lines) > 0 {
		fl.last = lines[len(lines)-1].Time
	}
	return lines, err
}

// Follow emits the lines written after the Follower's position, as FollowFile does.
func (fl *Follower) Follow(ctx context.Context, emit func(Line) error) error {
	return FollowAll(ctx, []*Follower{fl}, func(_ int, l Line) error { return emit(l) })
}

// FollowAll emits the lines written after each follower's position, as Follow does for
// one, until ctx ends (then it returns nil) or emit or a read fails (then it returns that
// error); emit learns which follower a line is from. One goroutine and one read buffer
// serve them all, and a file is read only when inotify says it, or a name its rotation
// moves, changed: a stream of every service's output costs neither a goroutine nor a
// wake-up per service while the services are quiet. The kernel reports every write to a
// watched folder, whatever the filesystem, so nothing is polled there; a file whose
// folder cannot be watched, or whose watch ends (the folder was removed or moved), is
// looked at every followEvery.
func FollowAll(ctx context.Context, fls []*Follower, emit func(i int, l Line) error) error {
	w := newWaiter(len(fls))
	polled := make([]bool, len(fls))
	var polling []int
	var tick <-chan time.Time
	var t *time.Ticker
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	// startPolling has file i looked at every followEvery from now on.
	startPolling := func(i int) {
		if polled[i] {
			return
		}
		polled[i] = true
		polling = append(polling, i)
		if t == nil {
			t = time.NewTicker(followEvery)
			tick = t.C
		}
	}
	// Watch before the first look, so that no write falls between the two.
	for i, fl := range fls {
		stop, ok := watchFile(fl.path, w, i)
		if !ok {
			startPolling(i)
			continue
		}
		defer stop()
	}
	buf := make([]byte, backChunk)
	look := func(i int) error {
		return fls[i].poll(buf, func(l Line) error { return emit(i, l) })
	}
	for i := range fls {
		if err := look(i); err != nil {
			return err
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
			changed, lost := w.take()
			for _, i := range lost {
				startPolling(i)
			}
			for _, i := range changed {
				if err := look(i); err != nil {
					return err
				}
			}
		case <-tick:
			for _, i := range polling {
				if err := look(i); err != nil {
					return err
				}
			}
		}
	}
}

// Close releases the file.
func (fl *Follower) Close() error {
	if fl.f == nil {
		return nil
	}
	err := fl.f.Close()
	fl.f = nil
	return err
}

// poll emits what was written since the last look, moving on through the files written
// after the current one when the sink has rotated it.
func (fl *Follower) poll(buf []byte, emit func(Line) error) error {
	if fl.f == nil {
		f, err := openRead(fl.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("logs: follow %s: %w", fl.path, err)
		}
		fl.f, fl.off, fl.carry = f, 0, nil
	}
	for {
		if err := fl.readNew(buf, emit); err != nil {
			return err
		}
		live, err := os.Stat(fl.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // mid-rotation, or gone: keep what we have and look again later
		}
		if err != nil {
			return fmt.Errorf("logs: follow %s: %w", fl.path, err)
		}
		cur, err := fl.f.Stat()
		if err != nil {
			return fmt.Errorf("logs: follow %s: %w", fl.path, err)
		}
		if os.SameFile(live, cur) {
			if cur.Size() < fl.off {
				// Truncated by hand: what is there now is new.
				fl.off, fl.carry = 0, nil
				return fl.readNew(buf, emit)
			}
			return nil
		}
		// A newer file exists, so this one is final: the sink closes a file before
		// renaming it. Finish it, then go on with the one written after it.
		if err := fl.readNew(buf, emit); err != nil {
			return err
		}
		if len(fl.carry) > 0 {
			if err := fl.emitLine(fl.carry, emit); err != nil {
				return err
			}
		}
		next, err := fl.next(cur)
		if err != nil {
			return err
		}
		fl.f.Close()
		fl.f, fl.off, fl.carry = next, 0, nil
		if next == nil {
			return nil
		}
	}
}

// next opens the file written after old, which the sink has rotated: the rotated file
// numbered one below old's, or the live file once old is path.1, so that a follower that
// slept through several rotations still reads every file that is kept. It returns nil
// when that file does not exist yet.
//
// The names shift while we look (each rotation renames every kept file up by one, from
// the oldest down, then the live one to path.1), so a look counts only if it holds: a
// candidate is taken only if old is still right behind it once it is open, and "old is
// not there" only if no rotation ran during the look (the live file is the same before
// and after). Then old has left the kept files (rotated out while we were reading it, or
// removed by hand) and the follower goes on with the oldest kept file that is not older
// than what it has read.
func (fl *Follower) next(old fs.FileInfo) (*os.File, error) {
	for range nextTries {
		before, _ := os.Stat(fl.path)
		k, err := fl.rotatedIndex(old)
		if err != nil {
			return nil, err
		}
		if k > 0 {
			f, err := fl.openAfter(k, old)
			if f != nil || err != nil {
				return f, err
			}
			continue // the names shifted between the look and the open
		}
		after, _ := os.Stat(fl.path)
		if before != nil && after != nil && os.SameFile(before, after) {
			return fl.oldestNotOlder()
		}
	}
	// Rotating faster than we can look: the live file at least is current.
	return fl.open(fl.path)
}

// nextTries bounds how often next looks again while rotations shift the names under it.
const nextTries = 100

// openAfter opens the file one below path.k (the live one when k is 1) and returns it if
// old is still path.k once it is open, nil if the names have shifted since.
func (fl *Follower) openAfter(k int, old fs.FileInfo) (*os.File, error) {
	cand := fl.path
	if k > 1 {
		cand = rotatedName(fl.path, k-1)
	}
	f, err := fl.open(cand)
	if f == nil || err != nil {
		return nil, err
	}
	if fi, err := os.Stat(rotatedName(fl.path, k)); err == nil && os.SameFile(fi, old) {
		return f, nil
	}
	f.Close()
	return nil, nil
}

// open opens name for reading; a name that does not exist gives nil and no error.
func (fl *Follower) open(name string) (*os.File, error) {
	f, err := openRead(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("logs: follow %s: %w", name, err)
	}
	return f, nil
}

// rotatedIndex returns N where path.N is old, 0 if none is. It looks past the highest
// number listed at the start while files are there, since a rotation during the look
// moves old up by one; a single gap is a name being moved.
func (fl *Follower) rotatedIndex(old fs.FileInfo) (int, error) {
	top, err := highestRotated(fl.path)
	if err != nil {
		return 0, err
	}
	for i, gaps := 1, 0; i <= top+1 || gaps < 2; i++ {
		fi, err := os.Stat(rotatedName(fl.path, i))
		if err != nil {
			gaps++
			continue
		}
		gaps = 0
		if os.SameFile(fi, old) {
			return i, nil
		}
	}
	return 0, nil
}

// oldestNotOlder opens the oldest kept file (rotated ones first, then the live one)
// whose first line is not older than the last line emitted: after old left the kept
// files, the files behind it are older (it was removed by hand) and the ones ahead of it
// newer (it was rotated out: then what was rotated out with it is gone).
func (fl *Follower) oldestNotOlder() (*os.File, error) {
	top, err := highestRotated(fl.path)
	if err != nil {
		return nil, err
	}
	for i := top; i >= 0; i-- {
		name := fl.path
		if i > 0 {
			name = rotatedName(fl.path, i)
		}
		f, err := fl.open(name)
		if err != nil {
			return nil, err
		}
		if f == nil {
			continue
		}
		if i == 0 || fl.last.IsZero() || !firstLineTime(f).Before(fl.last) {
			return f, nil
		}
		f.Close()
	}
	return nil, nil
}

// firstLineTime returns the time of f's first line, zero when it has none that parses.
func firstLineTime(f *os.File) time.Time {
	buf := make([]byte, min(maxReadLine, 4096))
	n, _ := f.ReadAt(buf, 0)
	i := bytes.IndexByte(buf[:n], '\n')
	if i < 0 {
		return time.Time{}
	}
	l, err := ParseLine(buf[:i])
	if err != nil {
		return time.Time{}
	}
	return l.Time
}

// readNew emits every whole line from off to the end of the file, reading through buf,
// and keeps a trailing partial line for later.
func (fl *Follower) readNew(buf []byte, emit func(Line) error) error {
	for {
		n, err := fl.f.ReadAt(buf, fl.off)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("logs: follow %s: %w", fl.path, err)
		}
		if n == 0 {
			return nil
		}
		fl.off += int64(n)
		data := buf[:n]
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			line := data[:i]
			if len(fl.carry) > 0 {
				line = append(fl.carry, line...)
				fl.carry = fl.carry[:0]
			}
			if err := fl.emitLine(line, emit); err != nil {
				return err
			}
			data = data[i+1:]
		}
		fl.carry = append(fl.carry, data...)
		if len(fl.carry) >= maxReadLine {
			if err := fl.emitLine(fl.carry, emit); err != nil {
				return err
			}
			fl.carry = fl.carry[:0]
		}
		if n < len(buf) {
			return nil
		}
	}
}

// emitLine parses one line and emits it; a line that does not parse goes out as stdout
// text with the time of the line before it, or the time it was read when there is none.
func (fl *Follower) emitLine(raw []byte, emit func(Line) error) error {
	l, err := ParseLine(raw)
	if err != nil {
		t := fl.last
		if t.IsZero() {
			t = time.Now().UTC().Truncate(time.Microsecond)
		}
		l = Line{Time: t, Stream: Stdout, Text: string(raw)}
	}
	fl.last = l.Time
	return emit(l)
}
