package discover

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
)

// maxPidfile bounds how much of a pidfile is read: a pid is a few digits,
// and the path may name something huge by mistake.
const maxPidfile = 4096

// PidFromFile reads the pid on the first line of a pidfile, surrounding
// blanks ignored. A missing file gives an error wrapping fs.ErrNotExist; a
// first line that is not a positive integer, ErrBadPidfile.
func PidFromFile(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read pidfile: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPidfile))
	if err != nil {
		return 0, fmt.Errorf("read pidfile: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	line = bytes.TrimSpace(line)
	pid, err := parsePid(line)
	if err != nil {
		return 0, fmt.Errorf("pidfile %s: %w: %q", path, ErrBadPidfile, truncate(line, 32))
	}
	return pid, nil
}

// parsePid accepts decimal digits only (no sign) naming a positive int32,
// the range of pid_t.
func parsePid(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, ErrBadPidfile
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, ErrBadPidfile
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 32)
	if err != nil || n <= 0 {
		return 0, ErrBadPidfile
	}
	return int(n), nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
