package logs

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
)

// rotatedName returns the name of the i-th rotated file: path.1 is the newest.
func rotatedName(path string, i int) string {
	return path + "." + strconv.Itoa(i)
}

// rotateLocked shifts path.(N-1) → path.N … path → path.1, dropping what falls beyond
// MaxFiles, and opens a fresh file. On error the sink keeps writing to whichever file
// it could open at path.
func (s *Sink) rotateLocked() error {
	var errs []error
	if err := s.file.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close: %w", err))
	}
	s.file = nil
	n := s.opts.MaxFiles
	// Files past MaxFiles are left over from a larger earlier setting.
	for i := n + 1; s.dir.Remove(rotatedName(s.name, i)) == nil; i++ {
	}
	for i := n - 1; i >= 1; i-- {
		err := s.dir.Rename(rotatedName(s.name, i), rotatedName(s.name, i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := s.dir.Rename(s.name, rotatedName(s.name, 1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := s.reopenLocked(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("logs: rotate %s: %w", s.path, errors.Join(errs...))
	}
	return nil
}

// reopenLocked opens path afresh (after rotation, or to retry after a failed open).
func (s *Sink) reopenLocked() error {
	f, size, regular, err := openLog(s.dir, s.name)
	if err != nil {
		return err
	}
	s.file, s.size, s.rotatable = f, size, regular
	if size == 0 {
		s.torn = false // a fresh file has no torn line to end
	}
	return nil
}
