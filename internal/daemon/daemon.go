// Package daemon runs the supervisor process: state dir, lock, logger, control socket and signals.
package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/journal"
	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/metrics"
	"github.com/respawn-sh/respawn/internal/proc"
	"github.com/respawn-sh/respawn/internal/sdnotify"
	"github.com/respawn-sh/respawn/internal/server"
	"github.com/respawn-sh/respawn/internal/service"
	"github.com/respawn-sh/respawn/internal/supervisor"
)

// maxSocketPath is the room sun_path leaves for a socket path (108 bytes with the NUL on Linux).
const maxSocketPath = 107

// Run runs the supervisor for cfg in the foreground until SIGTERM, SIGINT or a
// shutdown request, then stops every service and returns nil. It returns a
// *cli.AlreadyRunningError when another supervisor holds the state dir.
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
	stateDir := cfg.Supervisor.StateDir
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	// MkdirAll leaves an existing dir as it was; the socket and logs inside must
	// not be reachable by others whatever the dir's history.
	if err := os.Chmod(stateDir, 0o700); err != nil {
		return fmt.Errorf("restrict state dir: %w", err)
	}
	sockPath := filepath.Join(stateDir, "respawn.sock")
	if len(sockPath) > maxSocketPath {
		return fmt.Errorf("control socket path %s is %d bytes, longer than the %d a Unix socket allows: set supervisor.state_dir to a shorter path", sockPath, len(sockPath), maxSocketPath)
	}
	// A bad token file is a config problem: refuse before touching anything.
	var token string
	if h := cfg.Supervisor.HTTP; h != nil {
		if token, err = server.ReadToken(h.TokenFile); err != nil {
			return err
		}
	}
	lock, err := acquireLock(filepath.Join(stateDir, "respawn.lock"))
	if err != nil {
		return err
	}
	defer lock.release()

	events, err := journal.Open(filepath.Join(stateDir, "events.jsonl"), journal.Options{}, log)
	if err != nil {
		return fmt.Errorf("event journal: %w", err)
	}
	defer events.Close()

	mgr, err := proc.NewManager(proc.Options{Logger: log, InstanceID: instanceID(stateDir)})
	if err != nil {
		return fmt.Errorf("process manager: %w", err)
	}
	defer mgr.Close()
	capture, err := logs.NewCapture(log)
	if err != nil {
		return fmt.Errorf("output capture: %w", err)
	}
	defer capture.Close()

	sup, err := supervisor.New(cfg, supervisor.Options{
		Logger:      log,
		Runner:      runner{mgr},
		Capture:     capture,
		Containment: string(mgr.Containment()),
		Environ:     serviceEnviron(os.Environ()),
		Rand:        rand.Float64,
		Journal:     events,
	})
	if err != nil {
		return err
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)

	shutdown := make(chan struct{}, 1)
	requestShutdown := func() {
		select {
		case shutdown <- struct{}{}:
		default:
		}
	}
	srv := server.New(server.Options{
		Backend:  sup,
		Events:   events,
		Logger:   log,
		Shutdown: requestShutdown,
		Done:     sup.Done(),
		Audit:    events.Record,
	})
	l, err := srv.ListenSocket(sockPath, server.Access{AllowGroup: cfg.Supervisor.API.AllowGroup})
	if err != nil {
		return err
	}
	served := make(chan error, 2)
	go func() { served <- srv.Serve(l) }()
	if h := cfg.Supervisor.HTTP; h != nil {
		hl, err := srv.ListenHTTP(h.Listen, token, metrics.Handler(sup))
		if err != nil {
			l.Close()
			return err
		}
		log.Info("http listener", "addr", hl.Addr().String())
		go func() { served <- srv.Serve(hl) }()
	}

	sup.Start()
	log.Info("ready", "pid", os.Getpid(), "socket", sockPath, "containment", mgr.Containment())
	ready.report(nil, log)
	// Under systemd (Type=notify): ready now, and watchdog pings only while
	// the supervisor answers.
	if st, err := sup.Status(nil); err == nil {
		if err := sdnotify.Notify("READY=1\nSTATUS=" + summary(st)); err != nil {
			log.Warn("sd_notify", "err", err)
		}
	}
	wdCtx, stopWatchdog := context.WithCancel(context.Background())
	defer stopWatchdog()
	if every, ok := sdnotify.WatchdogInterval(); ok {
		go sdnotify.Watchdog(wdCtx, every/2, func(context.Context) (string, error) {
			st, err := sup.Status(nil)
			return summary(st), err
		}, log)
	}
	// Start-up leaves garbage (the YAML tree, per-spawn buffers) and grown
	// goroutine stacks behind. An idle supervisor allocates almost nothing, so
	// no GC would come to reclaim them: collect once now and hand the pages
	// back, so the steady state costs what it really uses.
	debug.FreeOSMemory()

	for stop := false; !stop; {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				log.Info("SIGHUP received: reloading the config")
				go func() {
					plan, err := sup.Reload(context.Background(), false)
					if err != nil {
						log.Error("reload failed; nothing changed unless listed", "err", err, "applied", plan.Applied)
						return
					}
					log.Info("reloaded", "add", plan.Add, "remove", plan.Remove, "restart", plan.Restart, "update", plan.Update)
				}()
				continue
			}
			log.Info("signal received, stopping", "signal", sig.String())
			stop = true
		case <-shutdown:
			stop = true
		case err := <-served:
			log.Error("control socket failed, stopping", "err", err)
			stop = true
		}
	}
	// A second signal during the stop must not kill the supervisor half-way:
	// services are already being stopped in order, bounded by their timeouts.
	go func() {
		for sig := range sigs {
			log.Warn("already stopping; signal ignored", "signal", sig.String())
		}
	}()
	stopWatchdog()
	_ = sdnotify.Notify("STOPPING=1")
	_ = sup.Shutdown(context.Background())
	// Followers of the journal (`events -f`) end now, having seen the last
	// event, instead of holding the server open.
	if err := events.Close(); err != nil {
		log.Warn("close event journal", "err", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		log.Warn("close control socket", "err", err)
	}
	if err := os.Remove(sockPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Warn("remove control socket", "err", err)
	}
	return nil
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
		}
		out = append(out, kv)
	}
	return out
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
	if s.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// runner adapts the process manager to the service layer's Runner.
type runner struct{ m *proc.Manager }

func (r runner) Spawn(spec proc.Spec) (service.Process, error) {
	p, err := r.m.Spawn(spec)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (r runner) Forget(name string) error { return r.m.Forget(name) }

func (r runner) Adopt(name string, pid int) (service.Process, error) {
	p, err := r.m.Adopt(name, pid)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (r runner) Watch(name string, pid int) (service.Process, error) {
	p, err := proc.WatchPid(name, pid)
	if err != nil {
		return nil, err
	}
	return p, nil
}
