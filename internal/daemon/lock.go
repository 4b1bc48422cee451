package daemon

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/cli"
	"github.com/respawn-sh/respawn/internal/statedir"
)

// lockName is the lock file in the state dir: it holds the pid of the
// supervisor that has the lock and the config it runs, one per line.
const lockName = "respawn.lock"

// stateLock is the flock that makes one supervisor per state dir. The kernel
// drops it when the process dies, so a crashed supervisor never blocks the next.
type stateLock struct{ f *os.File }

// acquireLock locks dir for the supervisor of the config at config; another
// holder is reported as a *cli.AlreadyRunningError naming its pid and config.
func acquireLock(dir *statedir.Dir, config string) (*stateLock, error) {
	f, err := dir.OpenRW(lockName, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			b := make([]byte, 4096)
			n, _ := f.ReadAt(b, 0)
			pid, other, _ := strings.Cut(string(b[:n]), "\n")
			p, _ := strconv.Atoi(strings.TrimSpace(pid))
			return nil, &cli.AlreadyRunningError{Pid: p, Config: strings.TrimSpace(other), StateDir: dir.Path()}
		}
		return nil, fmt.Errorf("lock %s: %w", dir.Join(lockName), err)
	}
	// Ours and locked: only now is it emptied, through the fd.
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write lock: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"+config+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write lock: %w", err)
	}
	return &stateLock{f: f}, nil
}

func (l *stateLock) release() {
	_ = l.f.Truncate(0)
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
}
