package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/health"
	"github.com/respawn-sh/respawn/internal/proc"
	"github.com/respawn-sh/respawn/internal/proc/discover"
	"github.com/respawn-sh/respawn/internal/proc/observe"
	"github.com/respawn-sh/respawn/internal/service"
)

// notifyPath is where a service's sd_notify socket lives.
func notifyPath(stateDir, name string) string {
	return filepath.Join(stateDir, "notify", name+".sock")
}

// openNotify opens the sd_notify socket of the member's service. Its
// datagrams count only from the service's own processes (see senderOf).
func (s *Supervisor) openNotify(m *member, path string) (*health.Notify, error) {
	dir := filepath.Dir(path)
	// The dir holds only sockets, each 0600 and owned by the user that may
	// send to it: others may search it (a service's user must) but not list it.
	if err := os.Mkdir(dir, 0o711); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return nil, fmt.Errorf("%s belongs to uid %d, not to us", dir, st.Uid)
	}
	if fi.Mode().Perm() != 0o711 {
		if err := os.Chmod(dir, 0o711); err != nil {
			return nil, err
		}
	}
	return health.ListenNotify(path, senderOf(&m.live, s.opts.Containment))
}

// ownNotify gives the service's notify socket to the user it runs as, so
// that it can send with nobody else able to, and makes the state dir
// searchable for a user other than ours (nothing in it is readable by
// others: files and the logs dir are ours alone). A user that is unknown
// now fails the spawn, which says so; one that cannot reach the socket
// through the state dir's parents is warned about.
func (s *Supervisor) ownNotify(n *health.Notify, sc *config.Service, path string) error {
	acct, err := proc.LookupAccount(sc.User, sc.Group)
	if err != nil {
		return nil
	}
	if err := n.Chown(int(acct.UID), int(acct.GID)); err != nil {
		return err
	}
	if acct.UID == uint32(os.Geteuid()) {
		return nil
	}
	stateDir := filepath.Dir(filepath.Dir(path))
	if fi, err := os.Lstat(stateDir); err == nil && fi.IsDir() && fi.Mode().Perm()&0o011 != 0o011 {
		if err := os.Chmod(stateDir, fi.Mode().Perm()|0o011); err != nil {
			return fmt.Errorf("let user %s reach its notify socket: %w", sc.User, err)
		}
	}
	if abs, err := filepath.Abs(filepath.Dir(path)); err == nil && !acct.Reaches(abs) {
		s.log.Warn("a folder above the notify socket is not searchable by the service's user: its READY=1 and WATCHDOG=1 cannot arrive; make the folders searchable (chmod o+x) or set supervisor.state_dir elsewhere",
			"service", sc.Name, "user", sc.User, "socket", path)
	}
	return nil
}

// spawnGrace bounds how long a datagram from a process that may be a new
// incarnation waits for the actor to publish that incarnation's pid: a
// daemon can say READY=1 within a millisecond of its exec, before the spawn's
// reply has come back from the keeper.
const spawnGrace = 5 * time.Second

// senderOf returns the check that a datagram's sender is a process of the
// service whose actor live holds: its main process, or a descendant of it
// (or one in its process group), or, with cgroup containment, a process in
// its cgroup. It reads the sender's parents or cgroup, never its environment,
// which a daemon setting its process title writes over. A sender that
// started after the service's known process (or while it has none) may be
// the incarnation being spawned: it is checked again as the actor publishes,
// for up to spawnGrace. The error says why a sender is not one; `why` shows
// it.
func senderOf(live *atomic.Pointer[service.Service], containment string) func(ctx context.Context, pid int) error {
	return func(ctx context.Context, pid int) error {
		svc := live.Load()
		if svc == nil {
			return fmt.Errorf("pid %d: the service is not set up yet", pid)
		}
		return checkSender(ctx, pid, svc.Watch, containment)
	}
}

// checkSender is senderOf's check against the snapshots watch returns.
func checkSender(ctx context.Context, pid int, watch func() (service.Snapshot, <-chan struct{}), containment string) error {
	snap, changed := watch()
	err := isSender(pid, snap, containment)
	if err == nil || !mayBeNewer(pid, snap) {
		return err
	}
	grace := time.NewTimer(spawnGrace)
	defer grace.Stop()
	for {
		select {
		case <-changed:
		case <-grace.C:
			return err
		case <-ctx.Done():
			return err
		}
		snap, changed = watch()
		if err = isSender(pid, snap, containment); err == nil {
			return nil
		}
	}
}

// isSender checks pid against the service as snap shows it.
func isSender(pid int, snap service.Snapshot, containment string) error {
	if !snap.State.Up() || snap.Pid <= 0 {
		return fmt.Errorf("pid %d: the service has no process (it is %s)", pid, snap.State)
	}
	if discover.Descends(pid, snap.Pid) {
		return nil
	}
	if containment == string(proc.ContainCgroup) {
		mine, err := discover.CgroupOf(snap.Pid)
		theirs, terr := discover.CgroupOf(pid)
		// The service's own cgroup, never a shared one above it.
		own := err == nil && strings.HasPrefix(filepath.Base(filepath.Dir(mine)), "respawn-")
		if own && terr == nil && discover.InCgroup(theirs, mine) {
			return nil
		}
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("pid %d exited before its message was read; it cannot be told from another process", pid)
	}
	return fmt.Errorf("pid %d is not the main process (pid %d) nor one of its descendants", pid, snap.Pid)
}

// mayBeNewer reports whether pid, alive, may belong to an incarnation the
// actor has not published yet: the service shows no process, or pid started
// after the one it shows.
func mayBeNewer(pid int, snap service.Snapshot) bool {
	theirs, err := observe.StartTime(pid)
	if err != nil {
		return false
	}
	if !snap.State.Up() || snap.Pid <= 0 {
		return true
	}
	mine, err := observe.StartTime(snap.Pid)
	return err != nil || theirs >= mine
}
