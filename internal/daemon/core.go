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
	c, err := startCore(cfg, stderr)
	if err != nil {
		return err
	}
	defer c.close()
	return c.run()
}

// keeperLink is what the core's control loop needs of its keeper: the
// keeper's requests, its end, and the core's answers. *keeper.Client is one;
// tests drive the loop with their own.
type keeperLink interface {
	Control() <-chan keeper.Control
	Closed() <-chan struct{}
	Pong() error
	Ready(status string) error
	Stopping() error
	Bye(code int) error
	KillOrphans() error
}

// core is one supervisor core: what startCore wired, and the state of its
// control loop.
type core struct {
	log    *slog.Logger
	dir    *statedir.Dir
	link   keeperLink
	hello  keeper.Hello
	events *journal.Journal
	sup    *supervisor.Supervisor
	srv    *server.Server

	// terms receives SIGTERM: the keeper's death (its parent-death signal),
	// or a person's, which the core ignores.
	terms chan os.Signal
	// shutdown is a stop asked through the API (`respawn down`).
	shutdown chan struct{}
	// served reports the end of a listener's Serve: a failed control socket.
	served chan error
	// keeperGone says whether the keeper that started this core has died;
	// keeperWait bounds how long a lost connection waits for it to tell.
	keeperGone func() bool
	keeperWait time.Duration
	// closers release what startCore opened, last first.
	closers []func()
}

// startCore wires a core: logger, the held state dir, crash output, the
// keeper connection, the journal, the services restored from the keeper's
// table, the supervisor and the API server on its sockets. It returns once
// the services are started and the keeper knows the core is ready.
func startCore(cfg *config.Config, stderr io.Writer) (c *core, err error) {
	log, err := newLogger(cfg.Supervisor.Log, stderr)
	if err != nil {
		return nil, err
	}
	log = log.With("core", os.Getpid())
	c = &core{log: log, shutdown: make(chan struct{}, 1), served: make(chan error, 2), keeperWait: 30 * time.Second}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	// The core's stderr is a pipe to the keeper: if the keeper dies, a log
	// write must fail, not kill the core before it cleaned up.
	signal.Ignore(syscall.SIGPIPE)
	// The keeper's death reaches the core as SIGTERM (its parent-death
	// signal); caught from the start, so that it cannot kill the core before
	// the core has cleaned up.
	c.terms = make(chan os.Signal, 1)
	signal.Notify(c.terms, syscall.SIGTERM)
	cfg = heldStateDir(cfg, log)
	_ = os.Unsetenv(keeper.EnvStateDir)
	// Checked again, as the keeper did: the config on disk may name another
	// dir by now, and every file below is opened through this one.
	if c.dir, err = statedir.Open(cfg.Supervisor.StateDir); err != nil {
		return nil, err
	}
	c.closers = append(c.closers, func() { c.dir.Close() })
	if err := c.dir.CheckSubdir(notifyDirName); err != nil {
		return nil, err
	}
	setCrashOutput(c.dir, log)
	sockEnv := os.Getenv(keeper.EnvSocket)
	if sockEnv == "" {
		return nil, errors.New("the core runs under a keeper: use `respawn up`")
	}
	_ = os.Unsetenv(keeper.EnvSocket)
	cl, err := keeper.Dial(sockEnv)
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, func() { cl.Close() })
	c.link, c.hello = cl, cl.Hello()
	c.keeperGone = func() bool { return os.Getppid() != c.hello.KeeperPid }

	var httpToken string
	if h := cfg.Supervisor.HTTP; h != nil {
		if httpToken, err = bearer.Read(h.TokenFile); err != nil {
			return nil, err
		}
	}
	if c.events, err = journal.Open(c.dir.Join(journal.FileName), journal.Options{}, log); err != nil {
		return nil, fmt.Errorf("event journal: %w", err)
	}
	c.closers = append(c.closers, func() { c.events.Close() })
	recordCoreStart(c.events, c.hello)

	restored, strays := restoreTable(cfg, cl, log)
	for _, name := range strays {
		// Left by a core that ran another config: not ours any more.
		log.Warn("stopping a process no configured service owns", "name", name)
		if err := cl.Forget(name); err != nil {
			log.Warn("forget", "name", name, "err", err)
		}
	}
	hello, events := c.hello, c.events
	c.sup, err = supervisor.New(cfg, supervisor.Options{
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
		return nil, err
	}
	c.srv = c.newServer(cl.Upgrade)
	sockPath := c.dir.Join(sockName)
	if err := c.dir.RemoveSocket(sockName); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// Restored services get their state back before anything can ask; this
	// spawns nothing.
	c.sup.Resume()
	l, err := c.srv.ListenSocket(sockPath, server.Access{AllowGroup: cfg.Supervisor.API.AllowGroup})
	if err != nil {
		return nil, err
	}
	var hl net.Listener
	if h := cfg.Supervisor.HTTP; h != nil {
		if hl, err = c.srv.ListenHTTP(h.Listen, httpToken, metrics.Handler(coreMetrics{c.sup, cl, events})); err != nil {
			l.Close()
			return nil, err
		}
		log.Info("http listener", "addr", hl.Addr().String())
	}

	go recordDrops(cl, events, c.dir.Join("logs"))
	// Served once the services are restored (Resume above): no answer shows
	// a restored service stopped with no pid, and a status during a long
	// first start shows it progressing. Start returns once each start is
	// applied (spawned or waiting on its dependencies), never waiting for
	// readiness.
	c.serve(l)
	if hl != nil {
		c.serve(hl)
	}
	if err := c.ready(sockPath, len(restored)); err != nil {
		return nil, err
	}
	return c, nil
}

// heldStateDir keeps the state dir the keeper holds when the config on disk
// names another (edited, or its default moved with an upgrade): the
// keeper's logs, records and socket are where it holds them, so this core
// works there until the next `up`.
func heldStateDir(cfg *config.Config, log *slog.Logger) *config.Config {
	held := os.Getenv(keeper.EnvStateDir)
	if held == "" || held == cfg.Supervisor.StateDir {
		return cfg
	}
	log.Warn("the config names another state dir than the one the supervisor holds; keeping the held one until respawn is restarted",
		"config_state_dir", cfg.Supervisor.StateDir, "state_dir", held)
	c := *cfg
	c.Supervisor.StateDir = held
	return &c
}

// setCrashOutput sends a panic or fatal error of the runtime to the crash
// log too, appended after the output of the cores before; the keeper reads
// this core's part once it is gone and hands it to the next one's journal.
func setCrashOutput(dir *statedir.Dir, log *slog.Logger) {
	f, err := dir.OpenAppend(keeper.CrashName, 0o600)
	if err != nil {
		log.Warn("crash output", "err", err)
		return
	}
	defer f.Close()
	if err := debug.SetCrashOutput(f, debug.CrashOptions{}); err != nil {
		log.Warn("crash output", "err", err)
	}
}

// newServer builds the API server over the supervisor; upgrade hands an
// upgrade to the keeper.
func (c *core) newServer(upgrade func(ctx context.Context, binary string) error) *server.Server {
	return server.New(server.Options{
		Backend: backend{c.sup},
		Events:  c.events,
		Logger:  c.log,
		Shutdown: func() {
			select {
			case c.shutdown <- struct{}{}:
			default:
			}
		},
		Done:    c.sup.Done(),
		Audit:   c.events.Record,
		Upgrade: upgrade,
	})
}

// serve answers on l until it fails or the server closes.
func (c *core) serve(l net.Listener) {
	go func() { c.served <- c.srv.Serve(l) }()
}

// ready starts the services and tells the keeper the core is ready.
func (c *core) ready(sockPath string, restored int) error {
	c.sup.Start()
	st, _ := c.sup.Status(nil)
	c.log.Info("ready", "pid", c.hello.KeeperPid, "core_pid", os.Getpid(), "socket", sockPath, "containment", c.hello.Containment, "restored", restored)
	if err := c.link.Ready(summary(st)); err != nil {
		return fmt.Errorf("tell the keeper: %w", err)
	}
	// Start-up leaves garbage (the YAML tree, per-spawn buffers) and grown
	// goroutine stacks behind. An idle supervisor allocates almost nothing, so
	// no GC would come to reclaim them: collect once now and hand the pages
	// back, so the steady state costs what it really uses.
	debug.FreeOSMemory()
	return nil
}

// close releases what startCore opened.
func (c *core) close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
	c.closers = nil
	if c.terms != nil {
		signal.Stop(c.terms)
	}
}

// run is the control loop: it answers the keeper's pings and requests until
// the core is to stop the services (the keeper's stop, or `down` through the
// API), to quit for an upgrade, or finds its keeper gone.
func (c *core) run() error {
	stop, quit := c.hello.Stopping, false
	for !stop && !quit {
		select {
		case <-c.terms:
			if c.keeperGone() {
				return c.orphaned()
			}
			c.log.Warn("SIGTERM to the core ignored: stop the supervisor through its keeper (respawn down, or SIGTERM to pid " + strconv.Itoa(c.hello.KeeperPid) + ")")
		case ctl := <-c.link.Control():
			switch ctl {
			case keeper.CtlPing:
				// Answered from this loop: a wedged core stays silent and the
				// keeper restarts it. Cheap on purpose: pings come every few
				// seconds for as long as the supervisor idles.
				_ = c.link.Pong()
			case keeper.CtlReload:
				go c.reload()
			case keeper.CtlStop:
				stop = true
			case keeper.CtlQuit:
				quit = true
			}
		case <-c.shutdown:
			stop = true
		case <-c.link.Closed():
			// A dying keeper closes its files long before the kernel
			// re-parents its children (tearing down a large address space
			// takes a while): wait for the parent-death signal or the new
			// parent. A live keeper that dropped this core kills it soon.
			if waitKeeperGone(c.terms, c.keeperGone, c.keeperWait) {
				return c.orphaned()
			}
			c.log.Error("keeper connection lost; exiting")
			return errors.New("keeper connection lost")
		case err := <-c.served:
			c.log.Error("control socket failed; exiting so that the keeper starts a new core", "err", err)
			return err
		}
	}
	if quit {
		return c.quit()
	}
	return c.stop()
}

// orphaned ends a core whose keeper died: it kills what the services left
// (the log goes to the keeper, which is gone, so that comes first).
func (c *core) orphaned() error {
	err := c.link.KillOrphans()
	c.log.Error("the keeper died; killed what the services left behind", "err", err)
	return errors.New("keeper died")
}

// quit ends the core for an upgrade: the services keep running, held by the
// keeper, for the next core.
func (c *core) quit() error {
	c.log.Info("quitting for an upgrade; services keep running")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.srv.Close(ctx)
	_ = c.dir.RemoveSocket(sockName)
	return nil
}

// stop stops every service in order, closes the journal and the sockets,
// and says bye to the keeper, which then exits.
func (c *core) stop() error {
	if err := c.link.Stopping(); err != nil {
		c.log.Warn("tell the keeper", "err", err)
	}
	// Keep answering pings while stopping: a long ordered stop is not a hang.
	stopped := make(chan struct{})
	go func() {
		for {
			select {
			case ctl := <-c.link.Control():
				if ctl == keeper.CtlPing {
					_ = c.link.Pong()
				}
			case <-stopped:
				return
			}
		}
	}()
	_ = c.sup.Shutdown(context.Background())
	close(stopped)
	// Refusals are counted and recorded once a minute: record the counts
	// still pending while the journal is open.
	c.srv.FlushRefusals()
	// Followers of the journal (`events -f`) end now, having seen the last
	// event, instead of holding the server open.
	if err := c.events.Close(); err != nil {
		c.log.Warn("close event journal", "err", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.srv.Close(ctx); err != nil {
		c.log.Warn("close control socket", "err", err)
	}
	if err := c.dir.RemoveSocket(sockName); err != nil {
		c.log.Warn("remove control socket", "err", err)
	}
	if err := c.link.Bye(0); err != nil {
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

// reload applies the config file on the keeper's request (SIGHUP). Nobody
// waits for the answer, so a failure is an event in the journal, with the
// errors, as well as a log line.
func (c *core) reload() {
	plan, err := c.sup.Reload(context.Background(), false)
	if err != nil {
		c.log.Error("reload failed; nothing changed unless listed", "err", err, "applied", plan.Applied)
		c.events.Record(api.Event{Type: api.EventSupervisor, Pid: os.Getpid(), Reason: "reload failed (SIGHUP)", Message: err.Error()})
		return
	}
	c.log.Info("reloaded", "add", plan.Add, "remove", plan.Remove, "restart", plan.Restart, "update", plan.Update)
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
