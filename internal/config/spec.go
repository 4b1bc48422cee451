// Package config loads a respawn YAML file into an immutable, fully validated Config.
package config

import (
	"path/filepath"
	"regexp"
	"time"
)

// Config is a loaded, validated configuration. All paths in it are absolute,
// all defaults are applied and all ${VAR} references are expanded.
// It must not be modified after Load returns.
type Config struct {
	// Path is the absolute path of the file the config was read from.
	Path string
	// Dir is the directory holding Path; relative paths in the file are resolved against it.
	Dir        string
	Version    int
	Supervisor Supervisor
	// Services in the order the file declares them.
	Services []*Service
	// Alerts is the alerts section; empty when absent.
	Alerts Alerts
}

// LogsDir is where the services' logs are in a state dir: its logs/.
func LogsDir(stateDir string) string { return filepath.Join(stateDir, "logs") }

// LogPath is the log file of the named service in a state dir's LogsDir.
func LogPath(stateDir, name string) string { return filepath.Join(LogsDir(stateDir), name+".log") }

// Service returns the service with the given name, or nil.
func (c *Config) Service(name string) *Service {
	for _, s := range c.Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Supervisor holds the supervisor-wide settings.
type Supervisor struct {
	// StateDir is absolute; default DefaultStateDir(Path).
	StateDir string
	Log      LogSettings
	API      APISettings
	// HTTP is nil when the HTTP listener is off, its default.
	HTTP *HTTPSettings
	// CoreTimeout is how long the supervisor's core may leave the keeper's
	// pings unanswered before it is declared hung and restarted; default 30s.
	CoreTimeout time.Duration
	// Containment is how each service's process tree is kept: "auto" (a
	// cgroup where cgroup2 is writable, else a process group), "cgroup"
	// (required: up fails without it) or "process-group". Default "auto".
	Containment string
	// Platform is which of the system's process facilities the keeper uses:
	// "auto" (the best the system offers), "linux" (Linux only) or "posix"
	// (only what every Unix has: no cgroup, subreaper, pidfd or parent-death
	// signal; the keeper–core socket is a framed SOCK_STREAM). Default "auto".
	Platform string
}

// APISettings says who besides root and the supervisor's own user may use
// the control socket.
type APISettings struct {
	// AllowGroup is a group name or numeric gid; empty grants no group.
	AllowGroup string
}

// HTTPSettings configures the optional HTTP listener of the control API.
type HTTPSettings struct {
	// Listen is HOST:PORT; a missing host is 127.0.0.1. Default 127.0.0.1:9180.
	Listen string
	// TokenFile is absolute; it holds the bearer token every request must carry.
	TokenFile string
}

// LogSettings configures the supervisor's own log.
type LogSettings struct {
	Level string // debug, info, warn, error; default info
	// LevelFromCommand says Level was set on the command line (a quiet
	// foreground `up`), not read from the file: the core is told so.
	LevelFromCommand bool
	Format           string // text or json; default text; FormatConsole from the command only
	// FormatFromCommand says Format was set on the command line (a
	// foreground `up` showing the services' output): the core is told so.
	FormatFromCommand bool
	// MaxSize and MaxFiles rotate the supervisor's log file (respawn.log, under
	// `up -d`); defaults as for services' logs.
	MaxSize  int64
	MaxFiles int
}

// FormatConsole is the supervisor's log format under a foreground `up`
// that shows the services' output: short lines that stand apart from the
// services' ("respawn: worker running → backoff: exit status 1, ..."),
// without the time (the terminal is now) or the core's pid. The command
// chooses it, never a config file.
const FormatConsole = "console"

// Kind says how respawn runs a service.
type Kind string

// The service kinds.
const (
	// KindProcess runs Command until it is stopped.
	KindProcess Kind = "process"
	// KindOneshot runs Command to completion.
	KindOneshot Kind = "oneshot"
	// KindForking runs Command, a launcher that daemonizes and exits 0; the
	// service is then the process whose pid the launcher wrote to Pidfile.
	KindForking Kind = "forking"
	// KindExternal is not started by Command (it has none): it is the process
	// named by Pidfile, Match or Unit, and Start, when set, (re)starts it.
	KindExternal Kind = "external"
)

// RestartPolicy says when a service that exited is started again.
type RestartPolicy string

// The restart policies.
const (
	RestartAlways    RestartPolicy = "always"
	RestartOnFailure RestartPolicy = "on-failure"
	RestartNever     RestartPolicy = "never"
)

// Service is one service's full definition with defaults applied.
type Service struct {
	Name string
	Kind Kind
	// Command is the argv; Command[0] is as written (resolved through PATH at spawn time
	// when it has no slash). Nil for KindExternal, set for every other kind.
	Command []string
	// Cwd is absolute; default the config's Dir.
	Cwd string
	// Env holds the service's own variables (env_file first, then env), in KEY=VALUE
	// form, sorted by key, values expanded. The spawner adds them on top of the
	// supervisor's environment.
	Env []string
	// User and Group name the credentials to run as (names or numeric ids),
	// both from the user key ("USER" or "USER:GROUP"). Empty User = inherit;
	// empty Group with a User = that user's primary group.
	User  string
	Group string
	// ServiceGroup is the label of the group key, which commands address as
	// "@NAME"; empty when the service belongs to no group.
	ServiceGroup string
	// Pidfile is absolute: for KindForking the file the launcher writes the
	// daemon's pid to, for KindExternal one way to find the process; empty otherwise.
	Pidfile string
	// Match finds a KindExternal process by its command line (the arguments
	// joined by single spaces); nil otherwise.
	Match *regexp.Regexp
	// Unit is the systemd unit a KindExternal service is, with its type
	// suffix ("nginx.service"); empty otherwise.
	Unit string
	// Start is the argv that (re)starts a KindExternal service; nil when
	// respawn only watches it. Always nil for other kinds.
	Start []string
	// Umask is nil when not set.
	Umask *uint32
	// Rlimits maps a limit name (nofile, nproc, core, cpu, fsize, data, stack, as,
	// memlock, locks, sigpending, msgqueue, nice, rtprio) to its value.
	Rlimits   map[string]Rlimit
	Autostart bool
	Restart   Restart
	Stop      Stop
	Logs      Logs
	DependsOn []Dependency // in file order; a replicated service stands for one entry per instance
	// Schedule runs a oneshot on a timetable; nil when not scheduled.
	Schedule *Schedule
	// Listen are the sockets the keeper holds for the service (its
	// replicas share them), passed to each incarnation as fds 3, 4, ….
	Listen []Listen
	// Backlog is the listen(2) backlog of each of them; default 1024.
	Backlog int
	Ready   *Probe // nil: ready as soon as spawned
	Health  *Probe // nil: no liveness check
	// ReplicaOf is the name written in the file when this service is one
	// instance of `replicas: N` (its Name is ReplicaOf + "." + Instance); empty otherwise.
	ReplicaOf string
	Instance  int // 1..N for a replica, 0 otherwise
	// Line is the 1-based line where the service's key stands in the file.
	Line int
	// At holds where the keys that Lint checks against the host were
	// written (in the service or the defaults).
	At KeyPositions
}

// KeyPositions are the positions of a service's keys that name things on
// the host; a zero Pos means the key was not written.
type KeyPositions struct {
	Command, Cwd, User Pos
}

// Pos is a 1-based line and column in the config file.
type Pos struct {
	Line, Col int
}

// Probe is a `ready` or `health` block: exactly one of Exec, HTTP, TCP, Log, Notify is set.
type Probe struct {
	Exec     []string       // argv (list, or a string split like command)
	HTTP     string         // URL, http:// or https://
	TCP      string         // host:port
	Log      *regexp.Regexp // readiness only
	Notify   bool           // sd_notify READY=1 (ready) / WATCHDOG=1 (health, with Watchdog)
	Interval time.Duration  // default 1s for ready, 10s for health
	Timeout  time.Duration  // default 1s
	Failures int            // health: consecutive failures before a restart; default 3
	Deadline time.Duration  // ready: give up after this long; default 60s
	// health only:
	MemoryMax int64         // bytes; 0 = no limit
	Watchdog  time.Duration // notify: restart when WATCHDOG=1 pings stop for this long; 0 = off
}

// Condition says when a dependency counts as satisfied.
type Condition string

// The dependency conditions.
const (
	CondStarted   Condition = "started"   // spawned
	CondReady     Condition = "ready"     // readiness passed (same as started for a service without a readiness probe)
	CondCompleted Condition = "completed" // a oneshot exited successfully
)

// Dependency is one entry of a service's depends_on.
type Dependency struct {
	Name      string
	Condition Condition
	// Restart: when the dependency restarts, restart this service once the dependency is satisfied again.
	Restart bool
}

// Rlimit is a soft/hard pair; Unlimited is represented as ^uint64(0).
type Rlimit struct {
	Soft, Hard uint64
}

// Unlimited is the value of an rlimit written as "unlimited" or "infinity".
const Unlimited = ^uint64(0)

// Restart is the restart policy of one service.
type Restart struct {
	Policy       RestartPolicy
	SuccessCodes []int // default [0]
	Backoff      Backoff
	Limit        Limit
	ResetAfter   time.Duration // default 30s
	Cooldown     time.Duration // default 5m; 0 = stay failed
	// Strategy is how a restart replaces a running incarnation; default StopFirst.
	Strategy RestartStrategy
	// MaxUnavailable is how many replicas a rolling restart replaces at
	// once; default 1.
	MaxUnavailable int
}

// RestartStrategy is how a restart replaces a running incarnation.
type RestartStrategy string

// The strategies.
const (
	// StopFirst stops the running incarnation, then starts the next.
	StopFirst RestartStrategy = "stop-first"
	// StartFirst starts the next incarnation, waits until it is ready,
	// then stops the one it replaces.
	StartFirst RestartStrategy = "start-first"
)

// Backoff sets the delay before each restart.
type Backoff struct {
	Initial time.Duration // default 100ms
	Max     time.Duration // default 30s
	Factor  float64       // default 2
	Jitter  float64       // default 0.1, in [0,1]
}

// Limit bounds how many starts may happen within Window.
type Limit struct {
	Burst  int           // default 10
	Window time.Duration // default 5m
}

// Stop says how a service is stopped.
type Stop struct {
	Signal  string        // signal name without SIG prefix, upper case; default TERM
	Timeout time.Duration // default 10s
	// Command, when set, is run to stop the service instead of sending
	// Signal; Timeout still bounds how long the service may take to exit.
	Command []string
}

// Logs configures output capture and rotation for one service.
type Logs struct {
	MaxSize  int64 // bytes; default 10MB
	MaxFiles int   // rotated files kept; default 5
}
