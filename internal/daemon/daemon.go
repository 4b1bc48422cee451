//go:build linux || darwin || freebsd

package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/bearer"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/instance"
	"github.com/respawn-sh/respawn/internal/keeper"
	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/platform"
	"github.com/respawn-sh/respawn/internal/proc/observe"
	"github.com/respawn-sh/respawn/internal/sdnotify"
	"github.com/respawn-sh/respawn/internal/statedir"
	"golang.org/x/sys/unix"
)

// Names in the state dir (the keeper names its own).
const (
	sockName      = "respawn.sock" // the control socket
	notifyDirName = "notify"       // the services' sd_notify sockets
)

// maxSocketPath is the room sun_path leaves for a socket path, its NUL aside
// (108 bytes on Linux, 104 on macOS and FreeBSD).
var maxSocketPath = len(unix.RawSockaddrUnix{}.Path) - 1

// Run runs `respawn up` for cfg in the foreground: this process becomes the
// keeper (the parent of every service) and starts the core as its child. It
// returns once every service is stopped (SIGTERM, SIGINT or `down`), or a
// *instance.AlreadyRunningError when another supervisor holds the state dir.
// Once the keeper runs, cfg keeps its path and supervisor settings only.
func Run(cfg *config.Config, stderr io.Writer) (err error) {
	ready, err := openReadyPipe()
	if err != nil {
		return err
	}
	// Any return before the services are started is a failed start for `up -d`.
	var log *slog.Logger
	defer func() { ready.report(err, log) }()
	log, err = newLogger(cfg.Supervisor.Log, stderr)
	if err != nil {
		return err
	}
	feat, err := choosePlatform(cfg)
	if err != nil {
		return err
	}
	// Before anything spawns or listens: every layer reads it.
	platform.Set(feat)
	stateDir := cfg.Supervisor.StateDir
	// Checked before anything in it is touched: a dir another user can
	// write to could hold symlinks to files that root would then write.
	dir, err := statedir.Open(stateDir)
	if err != nil {
		return err
	}
	defer dir.Close()
	// Under `up -d`, stderr is the state dir's respawn.log: from now on it is
	// written in whole lines, rotated, and survives a full disk.
	supLog, err := supervisorLog(dir, logs.Options{MaxSize: cfg.Supervisor.Log.MaxSize, MaxFiles: cfg.Supervisor.Log.MaxFiles}, stderr)
	if err != nil {
		return err
	}
	if supLog != nil {
		// Never closed: it is unbuffered, the process ends with Run, and what
		// is logged until then (the readiness report's failure) must land.
		if log, err = newLogger(cfg.Supervisor.Log, supLog); err != nil {
			return err
		}
	}
	sockPath := dir.Join(sockName)
	if len(sockPath) > maxSocketPath {
		return fmt.Errorf("control socket path %s is %d bytes, longer than the %d a Unix socket allows: set supervisor.state_dir to a shorter path", sockPath, len(sockPath), maxSocketPath)
	}
	// A bad token file is a config problem: refuse before touching anything.
	if h := cfg.Supervisor.HTTP; h != nil {
		if _, err = bearer.Read(h.TokenFile); err != nil {
			return err
		}
	}
	// The start time in the lock lets a client tell this keeper from a
	// later process that reuses its pid, without trusting the wall clock.
	var start uint64
	if st, err := observe.Of(os.Getpid()); err == nil {
		start = st.Start
	}
	lock, err := instance.Acquire(dir, cfg.Path, start)
	if err != nil {
		return err
	}
	defer lock.Release()
	// Locked: what is in the dir now was left by earlier supervisors of it,
	// or planted. Anything not of ours is refused before it is opened.
	if err := dir.CheckTree(); err != nil {
		return err
	}
	// Only the supervisor that runs says it: a second `up` stays quiet.
	raiseFdLimit(log, len(cfg.Services))
	binary, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	watchdog, _ := sdnotify.WatchdogInterval()
	opts := keeper.Options{
		Logger:        log,
		StateDir:      stateDir,
		Dir:           dir,
		InstanceID:    instanceID(stateDir),
		NoCgroup:      cfg.Supervisor.Containment == "process-group",
		RequireCgroup: cfg.Supervisor.Containment == "cgroup",
		Binary:        binary,
		CoreArgs:      coreArgs(cfg, feat),
		CoreEnv:       serviceEnviron(os.Environ()),
		CoreTimeout:   cfg.Supervisor.CoreTimeout,
		Ready:         func(err error) { ready.report(err, log) },
		Notify:        sdnotify.Notify,
		WatchdogEvery: watchdog,
		Lock:          lock.File(),
		ControlSocket: sockPath,
		LogLevel:      cfg.Supervisor.Log.Level,
		LogFormat:     cfg.Supervisor.Log.Format,
		LogRotation:   logs.Options{MaxSize: cfg.Supervisor.Log.MaxSize, MaxFiles: cfg.Supervisor.Log.MaxFiles},
		Log:           supLog,
	}
	// The keeper never reads the services' definitions (the core loads the
	// file itself), yet the caller holds cfg for as long as the keeper runs:
	// at 1,000 services they would be 0.7 MB of the keeper's heap for good.
	cfg.Services, cfg.Alerts = nil, config.Alerts{}
	code, err := keeper.Run(opts)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("supervisor ended with status %d", code)
	}
	return nil
}

// Resume continues a keeper in this new image after `respawn upgrade` and
// returns its exit code.
func Resume(handover string, stderr io.Writer) int {
	code, err := keeper.Resume(handover, func(o *keeper.Options) error {
		if o.Dir == nil {
			d, err := statedir.Open(o.StateDir)
			if err != nil {
				return err
			}
			o.Dir = d
		}
		supLog, err := supervisorLog(o.Dir, o.LogRotation, stderr)
		if err != nil {
			return err
		}
		if supLog != nil {
			o.Log, stderr = supLog, supLog
		}
		log, err := newLogger(config.LogSettings{Level: o.LogLevel, Format: o.LogFormat}, stderr)
		if err != nil {
			return err
		}
		o.Logger = log
		o.Notify = sdnotify.Notify
		o.WatchdogEvery, _ = sdnotify.WatchdogInterval()
		return nil
	})
	if err != nil {
		fmt.Fprintln(stderr, "respawn: keeper:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// summary is the one-line status systemd shows: "3 services: 2 running, 1 failed".
func summary(st api.Status) string {
	n := map[string]int{}
	for _, s := range st.Services {
		n[s.State]++
	}
	keys := slices.Sorted(maps.Keys(n))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", n[k], k)
	}
	return fmt.Sprintf("%d services: %s", len(st.Services), strings.Join(parts, ", "))
}

// serviceEnviron is the supervisor's environment as services inherit it:
// without systemd's notify and watchdog variables, which speak to respawn,
// not to its services.
func serviceEnviron(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID":
			continue
		case keeper.EnvSocket, keeper.EnvStateDir:
			// The keeper's, for the core alone.
			continue
		}
		out = append(out, kv)
	}
	return out
}

// coreArgs are the arguments of the core: its config, and the log level
// and format when the command line set them rather than the file.
func coreArgs(cfg *config.Config, feat platform.Features) []string {
	// The core uses the keeper's platform, whatever the file says by now.
	args := []string{"__core", "--config", cfg.Path, "--platform", feat.Name}
	if cfg.Supervisor.Log.LevelFromCommand {
		args = append(args, "--log-level", cfg.Supervisor.Log.Level)
	}
	if cfg.Supervisor.Log.FormatFromCommand {
		args = append(args, "--log-format", cfg.Supervisor.Log.Format)
	}
	return args
}

// EnvPlatform, when set, takes the place of the config's supervisor.platform
// (auto, linux or posix): the test suite runs a second time with it.
const EnvPlatform = "RESPAWN_PLATFORM"

// choosePlatform returns the features `up` runs with.
func choosePlatform(cfg *config.Config) (platform.Features, error) {
	setting := cfg.Supervisor.Platform
	if v := os.Getenv(EnvPlatform); v != "" {
		setting = v
	}
	feat, err := platform.Choose(setting)
	if err != nil {
		return feat, fmt.Errorf("supervisor.platform: %w", err)
	}
	if cfg.Supervisor.Containment == "cgroup" && !feat.Cgroups {
		return feat, fmt.Errorf("supervisor.containment: cgroup needs cgroups, which platform %s does not use", feat.Name)
	}
	return feat, nil
}

// instanceID names this supervisor's resources (its cgroup subtree) after its state dir.
func instanceID(stateDir string) string {
	sum := sha256.Sum256([]byte(stateDir))
	return hex.EncodeToString(sum[:6])
}

func newLogger(s config.LogSettings, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s.Level)); err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch s.Format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case config.FormatConsole:
		return slog.New(newConsoleHandler(w, level)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// LogName is the supervisor's own log in the state dir, where `up -d` sends
// the supervisor's stderr.
const LogName = "respawn.log"

// supervisorLog returns the supervisor's log as a rotated Writer when stderr is
// the state dir's respawn.log (as `up -d` and an upgrade leave it), else nil: a
// terminal or a journald stream is not ours to rotate.
func supervisorLog(dir *statedir.Dir, opts logs.Options, stderr io.Writer) (*logs.Writer, error) {
	f, ok := stderr.(*os.File)
	if !ok {
		return nil, nil
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, nil
	}
	// Only when stderr is that very file: a foreground `up 2>>elsewhere` is
	// not ours to rotate.
	lf, err := dir.Open(LogName)
	if err != nil {
		return nil, nil
	}
	li, err := lf.Stat()
	lf.Close()
	if err != nil || !os.SameFile(fi, li) {
		return nil, nil
	}
	w, err := logs.OpenWriter(dir, LogName, opts, redirectStdio)
	if err != nil {
		return nil, fmt.Errorf("supervisor log: %w", err)
	}
	return w, nil
}

// redirectStdio points stdout and stderr at f, the log file opened after a
// rotation: what writes to them directly (a runtime crash of the keeper) lands
// in the live file, and an upgraded image finds its log there.
func redirectStdio(f *os.File) {
	for _, fd := range []int{1, 2} {
		_ = unix.Dup2(int(f.Fd()), fd)
	}
}
