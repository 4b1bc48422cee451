package proc

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// Spec says what process to start and how.
type Spec struct {
	// Name is the service name; it names the service's cgroup and appears in errors.
	Name string
	// Args is the full argv. Args[0] without a slash is looked up in the PATH of Env
	// (or of the supervisor's environment when Env has no PATH), as User would:
	// entries User cannot search or execute are skipped.
	Args []string
	// Env is the environment of the process, KEY=VALUE, on top of BaseEnv:
	// an entry of Env replaces the BaseEnv entry with the same key.
	Env []string
	// BaseEnv is shared by many Specs (the supervisor's own environment); it is
	// merged with Env only for the spawn, so a thousand services do not each
	// keep a copy of it.
	BaseEnv []string
	// Dir is the working directory (absolute).
	Dir string
	// User and Group are names or numeric ids; empty means inherit the supervisor's.
	User  string
	Group string
	// Umask is applied in the child when not nil.
	Umask *uint32
	// Rlimits are applied in the child.
	Rlimits []Rlimit
	// DeathSignal is what the child gets when the supervisor dies (Linux; zero means
	// SIGKILL). A child that must clean up after it (the core, which kills
	// what its services left) asks for a signal it can catch.
	DeathSignal syscall.Signal
	// Listen are listening sockets passed to the process as fds 3, 4, …
	// with LISTEN_FDS, LISTEN_PID (the process's own pid) and
	// LISTEN_FDNAMES set, as sd_listen_fds(3) expects. At most MaxListen.
	Listen []Listener `json:",omitempty"`
}

// MaxListen bounds the sockets one process is given.
const MaxListen = 64

// Listener is one socket of Spec.Listen: the core names it, the keeper,
// which holds it, fills in File.
type Listener struct {
	Owner string   // the service it is held for (a replica's: the service written in the file)
	Addr  string   // as written: tcp://HOST:PORT or unix:///PATH
	Name  string   // its LISTEN_FDNAMES entry
	File  *os.File `json:"-"`
}

// Rlimit is one resource limit for the child.
type Rlimit struct {
	Resource string // nofile, nproc, core, cpu, fsize, data, stack, as, memlock, locks, sigpending, msgqueue, nice, rtprio
	Soft     uint64
	Hard     uint64
}

// Exit is how a process ended.
type Exit struct {
	Code   int // exit status when Signal == 0, else -1
	Signal int // terminating signal number, 0 when the process exited
	Core   bool
	At     time.Time
	// Unknown says how it ended cannot be known: the process was not our
	// child (WatchPid), so its status went to its own parent. Code is -1.
	Unknown bool
}

// String renders the exit as "exit status 1", "killed by signal 9" or, for a
// process that was not our child, "exited, status unknown".
func (e Exit) String() string {
	if e.Unknown {
		return "exited, status unknown"
	}
	if e.Signal != 0 {
		return fmt.Sprintf("killed by signal %d", e.Signal)
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// Containment names how a service's process tree is tracked.
type Containment string

// The containment mechanisms.
const (
	ContainCgroup       Containment = "cgroup"
	ContainProcessGroup Containment = "process-group"
)

// SpawnError reports a failure to start a process: the command is missing or not
// executable, the user is unknown, the working directory is missing, and so on.
// Err is the OS error.
type SpawnError struct {
	Op   string // "name", "exec", "chdir", "user", "group", "umask", "rlimit", "cgroup", "pipe"
	Path string // what the Op was applied to
	Err  error
}

func (e *SpawnError) Error() string { return e.Op + " " + e.Path + ": " + e.Err.Error() }

// Unwrap returns the OS error.
func (e *SpawnError) Unwrap() error { return e.Err }
