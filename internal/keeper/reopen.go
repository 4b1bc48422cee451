//go:build linux || darwin || freebsd

package keeper

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/logs"
)

// ownLog is the keeper's own log when that is a file: `up -d` hands it
// <state_dir>/respawn.log as stdout and stderr, and `up 2>>FILE` does the
// same. Reopen opens the path afresh and puts the new file in place of the
// old on the same descriptors, so that everything writing there (the
// keeper's logger, the copy of the core's output) moves over at once.
type ownLog struct {
	path string
	fds  []int // the descriptors that held the file at start: 2, and 1 when it is the same file
}

// findOwnLog returns the keeper's log file, or nil when stderr is not a
// regular file (a terminal, a pipe, the journal).
func findOwnLog() *ownLog {
	var st unix.Stat_t
	if err := unix.Fstat(2, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil
	}
	path, err := fdName(2)
	if err != nil || !strings.HasPrefix(path, "/") || strings.HasSuffix(path, " (deleted)") {
		return nil
	}
	// The name must still lead to this very file.
	var byPath unix.Stat_t
	if err := unix.Stat(path, &byPath); err != nil || byPath.Dev != st.Dev || byPath.Ino != st.Ino {
		return nil
	}
	l := &ownLog{path: path, fds: []int{2}}
	var out unix.Stat_t
	if err := unix.Fstat(1, &out); err == nil && out.Dev == st.Dev && out.Ino == st.Ino {
		l.fds = append(l.fds, 1)
	}
	return l
}

// Reopen opens the log's path for appending (creating it 0600) and puts it
// on the log's descriptors. It refuses a path that is now a symlink, not a
// regular file, or a file someone else owns.
func (l *ownLog) Reopen() error {
	fd, err := unix.Open(l.path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0o600)
	if err != nil {
		return fmt.Errorf("reopen %s: %w", l.path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("reopen %s: %w", l.path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("reopen %s: not a regular file owned by uid %s: left as it is", l.path, strconv.Itoa(os.Geteuid()))
	}
	var errs []error
	for _, target := range l.fds {
		if err := unix.Dup2(fd, target); err != nil {
			errs = append(errs, fmt.Errorf("reopen %s as fd %d: %w", l.path, target, err))
		}
	}
	return errors.Join(errs...)
}

// reopenLogs closes and reopens, by path, every log file the keeper writes:
// each service's log and its own. Lines written before stay in the files as
// they were (moved, for logrotate's move-then-signal).
func (k *Keeper) reopenLogs() {
	k.mu.Lock()
	sinks := make(map[string]reopener, len(k.sinks)+1)
	for name, s := range k.sinks {
		sinks[name] = s
	}
	k.mu.Unlock()
	switch {
	case k.opts.Log != nil:
		sinks[""] = k.opts.Log
	case k.ownLog != nil:
		sinks[""] = k.ownLog
	}
	failed := 0
	for name, s := range sinks {
		err := s.Reopen()
		if errors.Is(err, logs.ErrClosed) {
			continue // its service was removed meanwhile
		}
		if err != nil {
			failed++
			k.log.Warn("reopen log", "service", name, "err", err)
		}
	}
	k.log.Info("SIGUSR1: log files reopened", "files", len(sinks), "failed", failed)
}

type reopener interface{ Reopen() error }
