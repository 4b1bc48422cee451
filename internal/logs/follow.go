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

// followEvery is how often a follower looks for new lines. Polling costs a stat and a
// read per follower per tick, and followers exist only while a user follows a log
// (`respawn logs -f`), never otherwise: the capture itself neither polls nor waits on
// readers.
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
	buf   []byte   // read buffer, allocated on the first read
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
	t := time.NewTicker(followEvery)
	defer t.Stop()
	for {
		if err := fl.poll(emit); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
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
func (fl *Follower) poll(emit func(Line) error) error {
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
		if err := fl.readNew(emit); err != nil {
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
				return fl.readNew(emit)
			}
			return nil
		}
		// A newer file exists, so this one is final: the sink closes a file before
		// renaming it. Finish it, then go on with the one written after it.
		if err := fl.readNew(emit); err != nil {
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

// next opens the file written after old: the rotated file numbered one below old's, or
// the live file once old is path.1, so that a follower that slept through several
// rotations still reads every file that is kept. The names may shift while we look: a
// candidate is taken only if old is still right behind it. When old is no longer found
// (rotated out of the kept files, or removed by hand) the follower goes on with the live
// file. It returns nil when that does not exist yet.
func (fl *Follower) next(old fs.FileInfo) (*os.File, error) {
	for range 10 {
		k, err := fl.rotatedIndex(old)
		if err != nil || k == 0 {
			break
		}
		cand := fl.path
		if k > 1 {
			cand = rotatedName(fl.path, k-1)
		}
		f, err := openRead(cand)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("logs: follow %s: %w", cand, err)
		}
		if fi, err := os.Stat(rotatedName(fl.path, k)); err == nil && os.SameFile(fi, old) {
			return f, nil
		}
		f.Close()
	}
	f, err := openRead(fl.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("logs: follow %s: %w", fl.path, err)
	}
	return f, nil
}

// rotatedIndex returns N where path.N is old, 0 if none is.
func (fl *Follower) rotatedIndex(old fs.FileInfo) (int, error) {
	top, err := highestRotated(fl.path)
	if err != nil {
		return 0, err
	}
	for i := 1; i <= top+1; i++ {
		if fi, err := os.Stat(rotatedName(fl.path, i)); err == nil && os.SameFile(fi, old) {
			return i, nil
		}
	}
	return 0, nil
}

// readNew emits every whole line from off to the end of the file and keeps a trailing
// partial line for later.
func (fl *Follower) readNew(emit func(Line) error) error {
	if fl.buf == nil {
		fl.buf = make([]byte, backChunk)
	}
	for {
		n, err := fl.f.ReadAt(fl.buf, fl.off)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("logs: follow %s: %w", fl.path, err)
		}
		if n == 0 {
			return nil
		}
		fl.off += int64(n)
		data := fl.buf[:n]
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
		if n < len(fl.buf) {
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
