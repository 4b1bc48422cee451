package instance

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/statedir"
)

// LockName is the lock file in the state dir: it holds the pid of the
// supervisor (its keeper) that has the lock and the config it runs, one per
// line.
const LockName = "respawn.lock"

// maxLock bounds what is read of a lock file: a pid and a path.
const maxLock = 4096

// AlreadyRunningError says that another supervisor holds the state dir.
type AlreadyRunningError struct {
	Pid int
	// Config is the config file the running supervisor was started with;
	// StateDir the dir it holds. Either may be unknown ("").
	Config, StateDir string
}

func (e *AlreadyRunningError) Error() string {
	if e.Config == "" {
		return fmt.Sprintf("already running (pid %d)", e.Pid)
	}
	return fmt.Sprintf("already running (pid %d) for %s", e.Pid, e.Config)
}

// OtherConfig says whether the running supervisor runs another config than path.
func (e *AlreadyRunningError) OtherConfig(path string) bool {
	return e.Config != "" && e.Config != path
}

// Holder is what a lock file says of the supervisor that holds it.
type Holder struct {
	Pid    int
	Config string
	// Start is the holder's start time as the system counts it (Linux:
	// clock ticks after boot, /proc/PID/stat's starttime), 0 when the file
	// does not say: with it, a pid reused by a later process is told apart
	// exactly, whatever the wall clock did meanwhile.
	Start uint64
}

// ParseHolder reads a lock file's content: the holder's pid (first line),
// config (second line) and start time (a third line "start N", when
// written). ok is false when no valid pid is there.
func ParseHolder(b []byte) (h Holder, ok bool) {
	lines := strings.SplitN(string(b), "\n", 4)
	pid, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return Holder{}, false
	}
	h.Pid = pid
	if len(lines) > 1 {
		h.Config = strings.TrimSpace(lines[1])
	}
	if len(lines) > 2 {
		if v, found := strings.CutPrefix(strings.TrimSpace(lines[2]), "start "); found {
			h.Start, _ = strconv.ParseUint(v, 10, 64)
		}
	}
	return h, true
}

// Lock is the flock that makes one supervisor per state dir. The kernel
// drops it when the process dies, so a crashed supervisor never blocks the next.
type Lock struct{ f *os.File }

// Acquire locks dir for the supervisor of the config at config and writes
// the caller's pid, config and start time (start, when not 0) into the lock
// file; another holder is reported as an *AlreadyRunningError naming its pid
// and config.
func Acquire(dir *statedir.Dir, config string, start uint64) (*Lock, error) {
	f, err := dir.OpenRW(LockName, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			b := make([]byte, maxLock)
			n, _ := f.ReadAt(b, 0)
			h, _ := ParseHolder(b[:n])
			return nil, &AlreadyRunningError{Pid: h.Pid, Config: h.Config, StateDir: dir.Path()}
		}
		return nil, fmt.Errorf("lock %s: %w", dir.Join(LockName), err)
	}
	// Ours and locked: only now is it emptied, through the fd.
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write lock: %w", err)
	}
	content := strconv.Itoa(os.Getpid()) + "\n" + config + "\n"
	if start != 0 {
		content += "start " + strconv.FormatUint(start, 10) + "\n"
	}
	if _, err := f.WriteAt([]byte(content), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write lock: %w", err)
	}
	return &Lock{f: f}, nil
}

// File is the locked file: the keeper hands it to its next image in an
// upgrade, so that the lock is never let go while services run.
func (l *Lock) File() *os.File { return l.f }

// Release empties the lock file and unlocks it.
func (l *Lock) Release() {
	_ = l.f.Truncate(0)
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
}

// WaitUnlocked waits until no process holds the lock at path (a state dir's
// LockName), or deadline passes.
func WaitUnlocked(path string, deadline time.Time) error {
	// Neither through a symlink nor blocking on a FIFO: the state dir may be
	// one that `up` would refuse.
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil // no lock file: nothing holds it
	}
	defer f.Close()
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
		if err == nil {
			_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("supervisor still holds %s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
