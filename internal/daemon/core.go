//go:build linux

package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/bearer"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/journal"
	"github.com/respawn-sh/respawn/internal/keeper"
	"github.com/respawn-sh/respawn/internal/metrics"
	"github.com/respawn-sh/respawn/internal/server"
	"github.com/respawn-sh/respawn/internal/service"
	"github.com/respawn-sh/respawn/internal/statedir"
	"github.com/respawn-sh/respawn/internal/supervisor"
)

// RunCore runs the supervisor's core under the keeper that started it: the
// config, the services' state machines, probes, journal and API. It may die
// at any time without harm to the services; the keeper starts another, which
// resumes from the keeper's table and the states saved there.
func RunCore(cfg *config.Config, stderr io.Writer) error {
	log, err := newLogger(cfg.Supervisor.Log, stderr)
	if err != nil {
		return err
	}
	log = log.With("core", os.Getpid())
	// The core's stderr is a pipe to the keeper: if the keeper dies, a log
	// write must fail, not kill the core before it cleaned up.
	signal.Ignore(syscall.SIGPIPE)
	// The keeper's death reaches the core as SIGTERM (its parent-death
	// signal); caught from the start, so that it cannot kill the core before
	// the core has cleaned up.
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	if held := os.Getenv(keeper.EnvStateDir); held != "" && held != cfg.Supervisor.StateDir {
		// The file on disk names another dir (edited, or its default moved
		// with an upgrade): the keeper's logs, records and socket are where
		// it holds them, so this core works there until the next `up`.
		log.Warn("the config names another state dir than the one the supervisor holds; keeping the held one until respawn is restarted",
			"config_state_dir", cfg.Supervisor.StateDir, "state_dir", held)
		c := *cfg
		c.Supervisor.StateDir = held
		cfg = &c
	}
	_ = os.Unsetenv(keeper.EnvStateDir)
	stateDir := cfg.Supervisor.StateDir
	// Checked again, as the keeper did: the config on disk may name another
	// dir by now, and every file below is opened through this one.
	dir, err := statedir.Open(stateDir)
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := dir.CheckSubdir(notifyDirName); err != nil {
		return err
	}
	// A panic or fatal error of the runtime lands here too, appended after
	// the output of the cores before; the keeper reads this core's part once
	// it is gone and hands it to the next one's journal.
	if f, err := dir.OpenAppend(keeper.CrashName, 0o600); err == nil {
		if err := debug.SetCrashOutput(f, debug.CrashOptions{}); err != nil {
			log.Warn("crash output", "err", err)
		}
		f.Close()
	} else {
		log.Warn("crash output", "err", err)
	}
	sockEnv := os.Getenv(keeper.EnvSocket)
	if sockEnv == "" {
		return errors.New("the core runs under a keeper: use `respawn up`")
	}
	_ = os.Unsetenv(keeper.EnvSocket)
	cl, err := keeper.Dial(sockEnv)
	if err != nil {
		return err
	}
	defer cl.Close()
	hello := cl.Hello()

	var httpToken string
	if h := cfg.Supervisor.HTTP; h != nil {
		if httpToken, err = bearer.Read(h.TokenFile); err != nil {
			return err
		}
	}
	events, err := journal.Open(dir.Join("events.jsonl"), journal.Options{}, log)
	if err != nil {
		return fmt.Errorf("event journal: %w", err)
	}
	defer events.Close()
	recordCoreStart(events, hello)

	restored, strays := restoreTable(cfg, cl, log)
	for _, name := range strays {
		// Left by a core that ran another config: not ours any more.
		log.Warn("stopping a process no configured service owns", "name", name)
		if err := cl.Forget(name); err != nil {
			log.Warn("forget", "name", name, "err", err)
		}
	}
	sup, err := supervisor.New(cfg, supervisor.Options{
		Logger:      log,
		Runner:      remoteRunner{cl},
		Capture:     remoteCapture{cl},
		Containment: hello.Containment,
		Environ:     serviceEnviron(os.Environ()),
		Rand:        rand.Float64,
		Journal:     events,
		Save:        saver(cl, log),
		Restored:    restored,
		Describe: func(s *api.Supervisor) {
			s.Pid = hello.KeeperPid
			s.CorePid = os.Getpid()
			s.StartedAt = hello.StartedAt
			s.CoreRestarts = hello.CoreRestarts
			s.Binary = hello.Binary
			s.LogDropped = cl.LogDropped("")
			s.JournalDropped = events.Dropped()
			if u := hello.Upgrade; u != nil {
				s.LastUpgrade = &api.Upgraded{At: u.At, From: u.From, To: u.To, Active: u.Active, Error: u.Error}
			}
		},
	})
	if err != nil {
		return err
	}

	shutdown := make(chan struct{}, 1)
	requestShutdown := func() {
		select {
		case shutdown <- struct{}{}:
		default:
		}
	}
	srv := server.New(server.Options{
		Backend:  backend{sup},
		Events:   events,
		Logger:   log,
		Shutdown: requestShutdown,
		Done:     sup.Done(),
		Audit:    events.Record,
		Upgrade:  cl.Upgrade,
	})
	sockPath := dir.Join(sockName)
	if err := dir.RemoveSocket(sockName); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	// Restored services get their state back before anything can ask; this
	// spawns nothing.
	sup.Resume()
	l, err := srv.ListenSocket(sockPath, server.Access{AllowGroup: cfg.Supervisor.API.AllowGroup})
	if err != nil {
		return err
	}
	var hl net.Listener
	if h := cfg.Supervisor.HTTP; h != nil {
		if hl, err = srv.ListenHTTP(h.Listen, httpToken, metrics.Handler(coreMetrics{sup, cl, events})); err != nil {
			l.Close()
			return err
		}
		log.Info("http listener", "addr", hl.Addr().String())
	}

	go recordDrops(cl, events, dir.Join("logs"))
	// Served once the services are restored (Resume above): no answer shows
	// a restored service stopped with no pid, and a status during a long
	// first start shows it progressing. Start returns once each start is
	// applied (spawned or waiting on its dependencies), never waiting for
	// readiness.
	served := make(chan error, 2)
	go func() { served <- srv.Serve(l) }()
	if hl != nil {
		go func() { served <- srv.Serve(hl) }()
	}
	sup.Start()
	st, _ := sup.Status(nil)
	log.Info("ready", "pid", hello.KeeperPid, "core_pid", os.Getpid(), "socket", sockPath, "containment", hello.Containment, "restored", len(restored))
	if err := cl.Ready(summary(st)); err != nil {
		return fmt.Errorf("tell the keeper: %w", err)
	}
	// Start-up leaves garbage (the YAML tree, per-spawn buffers) and grown
	// goroutine stacks behind. An idle supervisor allocates almost nothing, so
	// no GC would come to reclaim them: collect once now and hand the pages
	// back, so the steady state costs what it really uses.
	debug.FreeOSMemory()

	keeperGone := func() bool { return os.Getppid() != hello.KeeperPid }
	orphaned := func() error {
		// Kill first: the log goes to the keeper, which is gone.
		err := cl.KillOrphans()
		log.Error("the keeper died; killed what the services left behind", "err", err)
		return errors.New("keeper died")
	}

	stop, quit := hello.Stopping, false
	for !stop && !quit {
		select {
		case <-terms:
			if keeperGone() {
				return orphaned()
			}
			log.Warn("SIGTERM to the core ignored: stop the supervisor through its keeper (respawn down, or SIGTERM to pid " + strconv.Itoa(hello.KeeperPid) + ")")
		case c := <-cl.Control():
			switch c {
			case keeper.CtlPing:
				// Answered from this loop: a wedged core stays silent and the
				// keeper restarts it. Cheap on purpose: pings come every few
				// seconds for as long as the supervisor idles.
				_ = cl.Pong()
			case keeper.CtlReload:
				go reload(sup, log)
			case keeper.CtlStop:
				stop = true
			case keeper.CtlQuit:
				quit = true
			}
		case <-shutdown:
			stop = true
		case <-cl.Closed():
			// A dying keeper closes its files long before the kernel
			// re-parents its children (tearing down a large address space
			// takes a while): wait for the parent-death signal or the new
			// parent. A live keeper that dropped this core kills it soon.
			if waitKeeperGone(terms, keeperGone, 30*time.Second) {
				return orphaned()
			}
			log.Error("keeper connection lost; exiting")
			return errors.New("keeper connection lost")
		case err := <-served:
			log.Error("control socket failed; exiting so that the keeper starts a new core", "err", err)
			return err
		}
	}
	if quit {
		log.Info("quitting for an upgrade; services keep running")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
		_ = dir.RemoveSocket(sockName)
		return nil
	}
	if err := cl.Stopping(); err != nil {
		log.Warn("tell the keeper", "err", err)
	}
	// Keep answering pings while stopping: a long ordered stop is not a hang.
	stopped := make(chan struct{})
	go func() {
		for {
			select {
			case c := <-cl.Control():
				if c == keeper.CtlPing {
					_ = cl.Pong()
				}
			case <-stopped:
				return
			}
		}
	}()
	_ = sup.Shutdown(context.Background())
	close(stopped)
	// Refusals are counted and recorded once a minute: record the counts
	// still pending while the journal is open.
	srv.FlushRefusals()
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
	if err := dir.RemoveSocket(sockName); err != nil {
		log.Warn("remove control socket", "err", err)
	}
	if err := cl.Bye(0); err != nil {
		return fmt.Errorf("tell the keeper: %w", err)
	}
	return nil
}

// waitKeeperGone reports whether the keeper turned out dead within limit.
func waitKeeperGone(terms <-chan os.Signal, gone func() bool, limit time.Duration) bool {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	end := time.After(limit)
	for !gone() {
		select {
		case <-terms:
		case <-tick.C:
		case <-end:
			return false
		}
	}
	return true
}

func reload(sup *supervisor.Supervisor, log *slog.Logger) {
	plan, err := sup.Reload(context.Background(), false)
	if err != nil {
		log.Error("reload failed; nothing changed unless listed", "err", err, "applied", plan.Applied)
		return
	}
	log.Info("reloaded", "add", plan.Add, "remove", plan.Remove, "restart", plan.Restart, "update", plan.Update)
}

// recordCoreStart files how the previous core ended, as a supervisor event:
// a crash of respawn itself, never a failure of a service.
func recordCoreStart(events *journal.Journal, h keeper.Hello) {
	p := h.Previous
	if p == nil {
		return
	}
	ev := api.Event{Type: api.EventSupervisor, Pid: p.Pid}
	switch p.Reason {
	case keeper.ReasonUpgrade:
		ev.Reason = "core restarted after an upgrade"
		if u := h.Upgrade; u != nil {
			ev.Message = fmt.Sprintf("upgrade %s -> %s; running %s", u.From, u.To, u.Active)
			if u.Error != "" {
				ev.Reason = "upgrade rolled back"
				ev.Message += ": " + u.Error
			}
		}
	default:
		ev.Reason = "core crashed: " + p.Exit
		if p.Reason != keeper.ReasonCrashed && p.Reason != "" {
			ev.Reason = "core " + p.Reason + ": " + p.Exit
		}
		ev.Message = strings.TrimSpace(p.Output)
	}
	events.Record(ev)
}

// saver sends each service's persistent state to the keeper, which keeps it
// for the next core. The actor only queues the value (its slices are
// copy-on-write, so sharing it is safe): encoding happens off the actor, so a
// respawn never waits for it, and a burst of changes to one service sends
// only the last.
func saver(cl *keeper.Client, log *slog.Logger) func(string, service.Saved) {
	q := &saveQueue{pending: map[string]service.Saved{}, wake: make(chan struct{}, 1)}
	go q.run(cl, log)
	return q.put
}

type saveQueue struct {
	mu      sync.Mutex // guards pending
	pending map[string]service.Saved
	wake    chan struct{}
}

func (q *saveQueue) put(name string, s service.Saved) {
	q.mu.Lock()
	q.pending[name] = s
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *saveQueue) run(cl *keeper.Client, log *slog.Logger) {
	for {
		select {
		case <-q.wake:
		case <-cl.Closed():
			return
		}
		q.mu.Lock()
		batch := q.pending
		q.pending = make(map[string]service.Saved, len(batch))
		q.mu.Unlock()
		for name, s := range batch {
			b, err := json.Marshal(s)
			if err == nil && len(b) > maxSaved {
				// A long exit history with long lines: keep the counters.
				s.Exits = nil
				b, err = json.Marshal(s)
			}
			if err != nil {
				log.Warn("save state", "service", name, "err", err)
				continue
			}
			if err := cl.Save(name, b); err != nil {
				if errors.Is(err, syscall.EPIPE) || errors.Is(err, keeper.ErrPeerGone) {
					return // the keeper is gone or done with this core
				}
				log.Warn("save state", "service", name, "err", err)
			}
		}
	}
}

// maxSaved keeps a saved state well inside one keeper message.
const maxSaved = 128 << 10

// restoreTable matches the keeper's table and saved states to the configured
// services. strays are names of live processes no configured service owns.
func restoreTable(cfg *config.Config, cl *keeper.Client, log *slog.Logger) (map[string]supervisor.Restored, []string) {
	names := map[string]bool{}
	for _, sc := range cfg.Services {
		names[sc.Name] = true
	}
	newest := map[string]*keeper.Process{}
	for _, p := range cl.Table() {
		newest[p.Name()] = p // the table is oldest first
	}
	out := map[string]supervisor.Restored{}
	for name, blob := range cl.Saved() {
		if !names[name] {
			continue
		}
		var s service.Saved
		if err := json.Unmarshal(blob, &s); err != nil {
			log.Warn("saved state unreadable; starting afresh", "service", name, "err", err)
			continue
		}
		r := supervisor.Restored{Saved: s}
		if p := newest[name]; p != nil && !handled(s, p) {
			r.Process = remoteProcess{p}
		}
		out[name] = r
	}
	var strays []string
	seen := map[string]bool{}
	for name, p := range newest {
		if _, ok := out[name]; ok || seen[name] {
			continue
		}
		seen[name] = true
		if names[name] {
			// Spawned before the core that spawned it could save anything.
			select {
			case <-p.Done():
				continue // ended too: start afresh
			default:
			}
			out[name] = supervisor.Restored{Saved: service.Saved{State: "starting", Wanted: true, Gen: 1, StartedAt: p.StartedAt()}, Process: remoteProcess{p}}
			continue
		}
		if strings.HasSuffix(name, ".probe") || strings.HasSuffix(name, ".stop") {
			continue // helpers of a service: they end by themselves
		}
		select {
		case <-p.Done():
		default:
			strays = append(strays, name)
		}
	}
	return out, strays
}

// handled reports whether the saved state already accounts for the end of p.
func handled(s service.Saved, p *keeper.Process) bool {
	select {
	case <-p.Done():
	default:
		return false
	}
	for _, e := range s.Exits {
		if e.Pid == p.Pid() {
			return true
		}
	}
	return false
}

// coreMetrics adds the supervisor's own figures to the services'.
type coreMetrics struct {
	*supervisor.Supervisor
	cl     *keeper.Client
	events *journal.Journal
}

func (c coreMetrics) Totals() metrics.Totals {
	return metrics.Totals{LogDropped: c.cl.LogDropped(""), JournalDropped: c.events.Dropped()}
}

// recordDrops files an event each time a log starts or stops dropping lines,
// until the keeper connection ends. logDir holds the services' logs, named
// after them.
func recordDrops(cl *keeper.Client, events *journal.Journal, logDir string) {
	for {
		var d keeper.LogDrops
		select {
		case d = <-cl.DropChanges():
		case <-cl.Closed():
			return
		}
		ev := api.Event{Type: api.EventLog}
		what := "the supervisor's log"
		if d.Name != "" {
			what = d.Name
			if filepath.Dir(d.Name) == logDir {
				ev.Service = strings.TrimSuffix(filepath.Base(d.Name), ".log")
				what = "log of " + ev.Service
			}
		}
		if d.Dropping {
			ev.Reason = "log writes failing: lines are dropped"
			ev.Message = fmt.Sprintf("writes to the %s fail; its lines are dropped and counted until they succeed again", what)
		} else {
			ev.Reason = "log writes resumed"
			ev.Message = fmt.Sprintf("the %s is written again; %d lines dropped in all", what, d.Dropped)
		}
		events.Record(ev)
	}
}

// backend is the supervisor as the API server sees it: the server depends
// on its own Backend interface, not on the supervisor's types.
type backend struct{ *supervisor.Supervisor }

func (b backend) LogFiles(names []string) ([]server.LogFile, error) {
	files, err := b.Supervisor.LogFiles(names)
	if err != nil {
		return nil, err
	}
	out := make([]server.LogFile, len(files))
	for i, f := range files {
		out[i] = server.LogFile{Service: f.Service, Path: f.Path}
	}
	return out, nil
}
