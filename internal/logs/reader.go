package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// backChunk is how much a backward read takes at a time.
	backChunk = 64 << 10
	// maxReadLine bounds a line as a reader sees it. Capture never writes a line longer
	// than maxLine plus its prefix; a longer one is not ours and is handed out in pieces
	// of this size rather than held whole.
	maxReadLine = 1 << 20
	// resolveLines bounds how far back a reader looks for the time of an unparseable line
	// after it already has every line it was asked for.
	resolveLines = 10_000
)

// ReadFile returns the last n lines (all of them when n <= 0) whose time is at or after
// since, oldest first, from the log file at path and its rotated predecessors path.1 ..
// path.N. Files are read from their end backwards, so the cost follows n rather than the
// size of the history; the search back stops at the first line older than since, as
// lines are appended in time order. A line that does not parse is returned as stdout
// text with the time of the line before it. A missing file is no error: the service has
// printed nothing yet.
func ReadFile(path string, since time.Time, n int) ([]Line, error) {
	f, err := openRead(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Between a rotation's rename and the new file's creation: the history is
		// all in the rotated files.
		return readHistory(path, nil, 0, since, n)
	case err != nil:
		return nil, fmt.Errorf("logs: read %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("logs: read %s: %w", path, err)
	}
	return readHistory(path, f, fi.Size(), since, n)
}

// readHistory reads the lines of cur up to end, then of the rotated files older than
// cur, newest first, and returns the selected lines oldest first. cur may be nil.
func readHistory(path string, cur *os.File, end int64, since time.Time, n int) ([]Line, error) {
	older, err := openRotated(path, cur)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, f := range older {
			f.Close()
		}
	}()
	c := collector{since: since, n: n}
	if cur != nil {
		if err := c.scan(cur, end); err != nil {
			return nil, err
		}
	}
	for _, f := range older {
		if c.stopped {
			break
		}
		fi, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("logs: read %s: %w", f.Name(), err)
		}
		if err := c.scan(f, fi.Size()); err != nil {
			return nil, err
		}
	}
	return c.result(), nil
}

// openRotated opens the rotated files of path that are older than cur, newest first.
// The sink may rotate meanwhile, renaming each file one number up: every file is opened
// before any is read, a file seen twice is skipped (continuing from there still yields
// the next older one), and a transient gap in the numbers is passed over.
func openRotated(path string, cur *os.File) ([]*os.File, error) {
	top, err := highestRotated(path)
	if err != nil {
		return nil, err
	}
	var curInfo fs.FileInfo
	if cur != nil {
		if curInfo, err = cur.Stat(); err != nil {
			return nil, fmt.Errorf("logs: read %s: %w", path, err)
		}
	}
	var files []*os.File
	var infos []fs.FileInfo
	fail := func(err error) ([]*os.File, error) {
		for _, f := range files {
			f.Close()
		}
		return nil, err
	}
	// Two past the highest number: a rotation during the listing shifts them up.
	for i := 1; i <= top+2; i++ {
		f, err := openRead(rotatedName(path, i))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fail(fmt.Errorf("logs: read %s: %w", rotatedName(path, i), err))
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return fail(fmt.Errorf("logs: read %s: %w", f.Name(), err))
		}
		if slices.ContainsFunc(infos, func(o fs.FileInfo) bool { return os.SameFile(o, fi) }) {
			f.Close()
			continue
		}
		if curInfo != nil && os.SameFile(curInfo, fi) {
			// cur has been rotated since it was opened: the files seen so far are
			// newer than it, and only those after it are its history.
			for _, g := range files {
				g.Close()
			}
			f.Close()
			files, infos = nil, []fs.FileInfo{fi}
			continue
		}
		files = append(files, f)
		infos = append(infos, fi)
	}
	return files, nil
}

// highestRotated returns the highest N for which path.N exists, 0 if none does.
func highestRotated(path string) (int, error) {
	entries, err := os.ReadDir(filepath.Dir(path))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("logs: list %s: %w", filepath.Dir(path), err)
	}
	prefix := filepath.Base(path) + "."
	top := 0
	for _, e := range entries {
		num, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		if i, err := strconv.Atoi(num); err == nil && i > top {
			top = i
		}
	}
	return top, nil
}

// collector selects lines while files are scanned from the newest line backwards.
type collector struct {
	since   time.Time
	n       int
	out     []Line   // selected lines, newest first
	pending []string // unparseable lines, newest first, waiting for the time of the line before them
	full    bool     // n lines are selected: what is left is to give pending lines a time
	looked  int      // lines looked at since full
	stopped bool
	newest  time.Time // time of the oldest parsed line seen so far: the one after pending lines
	seen    bool      // newest is set
}

// scan feeds the lines of f up to end to the collector, last line first.
func (c *collector) scan(f *os.File, end int64) error {
	b := backScanner{f: f, off: end}
	for !c.stopped {
		line, ok, err := b.prev()
		if err != nil {
			return fmt.Errorf("logs: read %s: %w", f.Name(), err)
		}
		if !ok {
			return nil
		}
		c.add(line)
	}
	return nil
}

func (c *collector) add(raw []byte) {
	l, err := ParseLine(raw)
	if err != nil {
		if c.full {
			c.tooFar()
			return
		}
		c.pending = append(c.pending, string(raw))
		if c.n > 0 && len(c.out)+len(c.pending) >= c.n {
			c.full = true
		}
		return
	}
	c.newest, c.seen = l.Time, true
	c.resolve(l.Time)
	if l.Time.Before(c.since) {
		c.stopped = true
		return
	}
	if c.full {
		c.stopped = true
		return
	}
	c.out = append(c.out, l)
	if c.n > 0 && len(c.out) >= c.n {
		c.stopped = true
	}
}

// resolve gives pending lines the time t of the line before them.
func (c *collector) resolve(t time.Time) {
	if len(c.pending) == 0 {
		return
	}
	if !t.Before(c.since) {
		for _, text := range c.pending {
			c.out = append(c.out, Line{Time: t, Stream: Stdout, Text: text})
		}
	}
	c.pending = c.pending[:0]
}

// tooFar stops the search for the time of pending lines once it has looked far enough.
func (c *collector) tooFar() {
	c.looked++
	if c.looked >= resolveLines {
		c.finish()
		c.stopped = true
	}
}

// finish gives pending lines, which have no line before them, the time of the line
// after them, or none when nothing parsed.
func (c *collector) finish() {
	var t time.Time
	if c.seen {
		t = c.newest
	}
	c.resolve(t)
}

// result returns the selected lines, oldest first.
func (c *collector) result() []Line {
	c.finish()
	out := c.out
	if c.n > 0 && len(out) > c.n {
		out = out[:c.n]
	}
	slices.Reverse(out)
	return out
}

// backScanner hands out the lines of a file from the last to the first. Only the bytes
// before off are read, so a writer appending meanwhile is not seen.
type backScanner struct {
	f    *os.File
	off  int64  // bytes of the file not yet read: [0, off)
	buf  []byte // read but not yet handed out: the file's bytes from off on
	trim bool   // the final newline has been dealt with
	done bool
}

// prev returns the line before those already returned, without its newline; ok is false
// at the start of the file. The line is valid until the next call.
func (b *backScanner) prev() (line []byte, ok bool, err error) {
	for {
		if b.done {
			return nil, false, nil
		}
		if !b.trim && len(b.buf) > 0 {
			// The file's last newline ends the last line rather than starting an empty one.
			b.buf = bytes.TrimSuffix(b.buf, newline)
			b.trim = true
		}
		if i := bytes.LastIndexByte(b.buf, '\n'); i >= 0 {
			line, b.buf = b.buf[i+1:], b.buf[:i]
			return line, true, nil
		}
		if b.off == 0 || len(b.buf) >= maxReadLine {
			line, b.buf = b.buf, nil
			if b.off == 0 {
				b.done = true
				if len(line) == 0 && !b.trim {
					return nil, false, nil // an empty file
				}
			}
			return line, true, nil
		}
		if err := b.readMore(); err != nil {
			return nil, false, err
		}
	}
}

// readMore prepends the chunk before off to buf.
func (b *backScanner) readMore() error {
	k := min(int64(backChunk), b.off)
	nb := make([]byte, int(k)+len(b.buf))
	if _, err := b.f.ReadAt(nb[:k], b.off-k); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	copy(nb[k:], b.buf)
	b.off -= k
	b.buf = nb
	if b.off == 0 && len(nb) == 0 {
		b.done = true
	}
	return nil
}

// openRead opens a log file for reading; a symlink is refused, not followed,
// so a link planted in the logs dir cannot show another file's content.
func openRead(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}
