package proc

import (
	"errors"
	"io/fs"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// Sentinel errors, found inside a *SpawnError or returned directly.
var (
	// ErrNoCommand: Spec.Args is empty.
	ErrNoCommand = errors.New("empty command")
	// ErrInvalidName: Spec.Name cannot name a service (empty, has a slash, and so on).
	ErrInvalidName = errors.New("invalid service name")
	// ErrInvalidInstanceID: Options.InstanceID is empty or cannot be part of a directory name.
	ErrInvalidInstanceID = errors.New("invalid instance id")
	// ErrUnknownRlimit: an Rlimit names a resource this OS does not have.
	ErrUnknownRlimit = errors.New("unknown resource limit")
	// ErrInvalidRlimit: an Rlimit's soft value exceeds its hard value.
	ErrInvalidRlimit = errors.New("soft limit above hard limit")
	// ErrLeftover: processes of an earlier instance of the service would not die,
	// so a new instance is not started (never two instances).
	ErrLeftover = errors.New("processes of a previous instance are still running")
	// ErrNoTrampoline: the Self binary did not act as the exec trampoline
	// (its main does not call RunTrampoline first).
	ErrNoTrampoline = errors.New("binary does not run the exec trampoline")
	// ErrNoCgroup: cgroup containment was required (Options.RequireCgroup)
	// and cannot be used here; the error wrapping it says why.
	ErrNoCgroup = errors.New("cgroup containment is not available")
	// ErrClosed: the Manager was closed.
	ErrClosed = errors.New("process manager closed")
	// ErrInvalidPid: a pid given to Adopt or WatchPid is not positive.
	ErrInvalidPid = observe.ErrInvalidPid
	// ErrNotChild: Adopt was given a live process that is not a child of the
	// supervisor, or (in cgroup mode) not in the service's cgroup.
	ErrNotChild = errors.New("process is not a child of this service")
	// ErrTracked: Adopt was given a pid that is already tracked as another
	// Process (a spawned one or an earlier adoption) that has not exited.
	ErrTracked = errors.New("process is already tracked")
)

// unknownIDError says a user or group has no entry in the account database.
// It matches fs.ErrNotExist so callers can treat it like a missing command.
type unknownIDError struct {
	kind string // "user" or "group"
	err  error  // the lookup error from os/user
}

func (e *unknownIDError) Error() string { return "no such " + e.kind }

func (e *unknownIDError) Unwrap() error { return e.err }

// Is reports fs.ErrNotExist as a match.
func (e *unknownIDError) Is(target error) bool { return target == fs.ErrNotExist }
