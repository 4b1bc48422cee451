package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// logFile is a log file that rotates by size and is written in whole lines: the part
// of a Sink or a Writer that touches the disk. Its owner's lock guards it, except dir,
// name, path and opts, which never change.
type logFile struct {
	dir       Dir    // every open, rename and remove goes through it
	name      string // the live file's name in dir
	path      string // dir.Join(name), for messages
	opts      Options
	file      *os.File // nil once closed, or after a failed reopen (retried on the next write)
	size      int64
	rotatable bool // a regular file: devices such as /dev/null are never renamed
	torn      bool // the last write stopped mid-line; the next one starts a fresh line
}

// rotatedName returns the name of the i-th rotated file: path.1 is the newest.
func rotatedName(path string, i int) string {
	return path + "." + strconv.Itoa(i)
}

// Rotate shifts name.(N-1) → name.N … name → name.1 in dir, with N maxFiles,
// removing what lies beyond name.N (left over from a larger earlier setting).
// Missing files are skipped; the other failures are returned together. The
// caller closes the live file first and opens a fresh one after.
func Rotate(dir Dir, name string, maxFiles int) error {
	var errs []error
	for i := maxFiles + 1; dir.Remove(rotatedName(name, i)) == nil; i++ {
	}
	for i := maxFiles - 1; i >= 1; i-- {
		err := dir.Rename(rotatedName(name, i), rotatedName(name, i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := dir.Rename(name, rotatedName(name, 1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// rotateLocked shifts path.(N-1) → path.N … path → path.1, dropping what falls beyond
// MaxFiles, and opens a fresh file. On error the file keeps being written at whichever
// file it could open at path.
func (l *logFile) rotateLocked() error {
	var errs []error
	if err := l.file.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close: %w", err))
	}
	l.file = nil
	if err := Rotate(l.dir, l.name, l.opts.MaxFiles); err != nil {
		errs = append(errs, err)
	}
	if err := l.reopenLocked(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("logs: rotate %s: %w", l.path, errors.Join(errs...))
	}
	return nil
}

// reopenLocked opens path afresh (after rotation, or to retry after a failed open).
func (l *logFile) reopenLocked() error {
	f, size, regular, err := openLog(l.dir, l.name)
	if err != nil {
		return err
	}
	l.file, l.size, l.rotatable = f, size, regular
	if size == 0 {
		l.torn = false // a fresh file has no torn line to end
	}
	return nil
}

// writeLinesLocked writes b, holding whole lines, to the open file. On error it returns
// how many lines of b it did not complete; a line cut short by a failed write (a full
// disk takes what fits) is ended by the next write, so that the torn line does not
// swallow the next one.
func (l *logFile) writeLinesLocked(b []byte) (lost int, err error) {
	if l.torn {
		n, err := l.file.Write(newline)
		l.size += int64(n)
		if err != nil {
			return bytes.Count(b, newline), err
		}
		l.torn = false
	}
	n, err := l.file.Write(b)
	l.size += int64(n)
	if err != nil {
		l.torn = n > 0 && b[n-1] != '\n'
		return bytes.Count(b[n:], newline), err
	}
	return 0, nil
}

// rotatedBase returns web.log for web.log.N.
func rotatedBase(name string) (string, bool) {
	i := len(name)
	for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	if i == len(name) || i < 2 || name[i-1] != '.' {
		return "", false
	}
	return name[:i-1], true
}
