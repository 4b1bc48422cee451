package proc

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/platform"
)

// FreeBSD has no /proc children links to scan, but the keeper is the reaper
// of every descendant (procctl PROC_REAP_ACQUIRE), and the kernel remembers
// which of its direct children each one descends from — even an orphan that
// left its service's process group. So a service's whole tree is signalled
// with one PROC_REAP_KILL of its subtree, and nothing needs tracking.

// From FreeBSD's sys/procctl.h.
const (
	procReapKill      = 6
	reaperKillSubtree = 0x2
)

// procctlReaperKill is struct procctl_reaper_kill.
type procctlReaperKill struct {
	sig     int32
	flags   uint32
	subtree int32
	killed  uint32
	fpid    int32
	_       [15]uint32
}

func (p *Process) scanTree()                          {}
func (p *Process) attributeAtExitLocked() []trackNote { return nil }
func (p *Process) descendantsGone() bool              { return true }

// signalDescendants sends sig to every process descended from p's main
// process, which the reaper's subtree id names.
func (p *Process) signalDescendants(sig syscall.Signal, _ bool) (bool, error) {
	if !platform.Current().Subreaper || p.watch != nil {
		return false, nil
	}
	rk := procctlReaperKill{sig: int32(sig), flags: reaperKillSubtree, subtree: int32(p.pid)}
	_, _, errno := unix.Syscall6(unix.SYS_PROCCTL, procctlPid, 0, procReapKill, uintptr(unsafe.Pointer(&rk)), 0, 0)
	if errno != 0 && !errors.Is(errno, unix.ESRCH) {
		return false, fmt.Errorf("kill the tree of %d (procctl PROC_REAP_KILL): %w", p.pid, errno)
	}
	return rk.killed > 0, nil
}

// Track finds nothing: the reaper's subtrees need no scan.
func (m *Manager) Track() {}

// KillOrphans has nothing to do: what a service left behind stays in its
// subtree and is killed with it.
func (m *Manager) KillOrphans(context.Context) error { return nil }
