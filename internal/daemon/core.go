//go:build linux || darwin || freebsd

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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/alerts"
	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/bearer"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/journal"
	"github.com/respawn-sh/respawn/internal/keeper"
	"github.com/respawn-sh/respawn/internal/metrics"
	"github.com/respawn-sh/respawn/internal/platform"
	"github.com/respawn-sh/respawn/internal/server"
	"github.com/respawn-sh/respawn/internal/service"
	"github.com/respawn-sh/respawn/internal/statedir"
	"github.com/respawn-sh/respawn/internal/supervisor"
	"github.com/respawn-sh/respawn/internal/web"
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
	feat, err := platform.Choose(cfg.Supervisor.Platform)
	if err != nil {
		return err
	}
	// Before the keeper is dialled: the socket's type depends on it.
	platform.Set(feat)
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
	c, err := newCore(coreOptions{
		Config:      cfg,
		Logger:      log,
		Connect:     dialKeeper,
		Terms:       terms,
		Environ:     serviceEnviron(os.Environ()),
		CrashOutput: true,
	})
	if err != nil {
		return err
	}
	defer c.close()
	return c.run()
}

// dialKeeper connects to the keeper named by the environment, and removes
// the variable so that no service inherits it.
func dialKeeper() (keeperLink, error) {
	sockEnv := os.Getenv(keeper.EnvSocket)
	if sockEnv == "" {
		return nil, errors.New("the core runs under a keeper: use `respawn up`")
	}
	_ = os.Unsetenv(keeper.EnvSocket)
	cl, err := keeper.Dial(sockEnv)
	if err != nil {
		return nil, err
	}
	return keeperClient{cl}, nil
}

// keeperLink is the keeper connection as the core uses it: the keeper
// client, or a fake one in tests.
type keeperLink interface {
	Hello() keeper.Hello
	// Table lists the processes the keeper holds, oldest first; Saved the
	// states the cores before saved, by service name.
	Table() []*keeper.Process
	Saved() map[string]json.RawMessage
	Save(name string, blob []byte) error
	Forget(name string) error
	// Control delivers the keeper's requests (ping, reload, stop, quit).
	Control() <-chan keeper.Control
	Pong() error
	Ready(status string) error
	Stopping() error
	Bye(code int) error
	Upgrade(ctx context.Context, binary string) error
	KillOrphans() error
	LogDropped(name string) uint64
	DropChanges() <-chan keeper.LogDrops
	// Closed is closed once the connection is gone.
	Closed() <-chan struct{}
	Close() error
	// Runner spawns services and helpers as the keeper's children, and
	// Capture opens their logs, which the keeper writes.
	Runner() supervisor.Runner
	Capture() supervisor.Capture
}

// keeperClient is the keeper client as a keeperLink.
type keeperClient struct{ *keeper.Client }

func (c keeperClient) Runner() supervisor.Runner   { return remoteRunner{c.Client} }
func (c keeperClient) Capture() supervisor.Capture { return remoteCapture{c.Client} }

// coreOptions are what the core is made of.
type coreOptions struct {
	Config *config.Config
	Logger *slog.Logger
	// Connect opens the connection to the keeper, once the state dir is
	// checked.
	Connect func() (keeperLink, error)
	// Terms delivers SIGTERM, which is how the keeper's death reaches the core.
	Terms <-chan os.Signal
	// Environ is the base environment of every service.
	Environ []string
	// CrashOutput sends the runtime's crash output to the state dir, for the
	// keeper to hand to the next core.
	CrashOutput bool
	// KeeperWait bounds the wait for a keeper that closed the connection to
	// turn out dead; 0 means 30s.
	KeeperWait time.Duration
}

// core is one core process's supervisor, API and keeper connection. Its
// lifecycle (wire, serve, loop, then stop or quit) runs on the goroutine
// that calls run.
type core struct {
	log        *slog.Logger
	cfg        *config.Config
	dir        *statedir.Dir
	kl         keeperLink
	hello      keeper.Hello
	events     *journal.Journal
	alerts     *alerts.Notifier // records through events, and sends alerts
	sup        *supervisor.Supervisor
	srv        *server.Server
	sockPath   string
	listeners  []net.Listener
	restored   int
	terms      <-chan os.Signal
	keeperWait time.Duration
	shutdown   chan struct{} // an API request to stop (1 slot)
	served     chan error    // a listener's Serve ended
}

// newCore opens the state dir, the keeper connection and the journal,
// builds the supervisor from what the keeper kept, and listens on the
// control socket (and HTTP). Nothing is started yet.
func newCore(opts coreOptions) (_ *core, err error) {
	c := &core{
		log:        opts.Logger,
		cfg:        opts.Config,
		terms:      opts.Terms,
		keeperWait: opts.KeeperWait,
		shutdown:   make(chan struct{}, 1),
		served:     make(chan error, 2),
	}
	if c.keeperWait == 0 {
		c.keeperWait = 30 * time.Second
	}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	if err := c.openStateDir(opts.CrashOutput); err != nil {
		return nil, err
	}
	if c.kl, err = opts.Connect(); err != nil {
		return nil, err
	}
	c.hello = c.kl.Hello()
	var httpToken string
	if h := c.cfg.Supervisor.HTTP; h != nil {
		if httpToken, err = bearer.Read(h.TokenFile); err != nil {
			return nil, err
		}
	}
	if c.events, err = journal.Open(c.dir.Join(journal.FileName), journal.Options{}, c.log); err != nil {
		return nil, fmt.Errorf("event journal: %w", err)
	}
	if c.alerts, err = alerts.New(alerts.Options{Alerts: c.cfg.Alerts, Journal: c.events, Logger: c.log, Environ: opts.Environ}); err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	recordCoreStart(c.alerts, c.hello)
	if err := c.newSupervisor(opts.Environ); err != nil {
		return nil, err
	}
	if err := c.listen(httpToken); err != nil {
		return nil, err
	}
	return c, nil
}

// openStateDir opens the state dir and, when crash is set, sends the
// runtime's crash output there.
func (c *core) openStateDir(crash bool) error {
	// Checked again, as the keeper did: the config on disk may name another
	// dir by now, and every file below is opened through this one.
	dir, err := statedir.Open(c.cfg.Supervisor.StateDir)
	if err != nil {
		return err
	}
	c.dir = dir
	if err := dir.CheckSubdir(notifyDirName); err != nil {
		return err
	}
	if !crash {
		return nil
	}
	// A panic or fatal error of the runtime lands here too, appended after
	// the output of the cores before; the keeper reads this core's part once
	// it is gone and hands it to the next one's journal.
	f, err := dir.OpenAppend(keeper.CrashName, 0o600)
	if err != nil {
		c.log.Warn("crash output", "err", err)
		return nil
	}
	defer f.Close()
	if err := debug.SetCrashOutput(f, debug.CrashOptions{}); err != nil {
		c.log.Warn("crash output", "err", err)
	}
	return nil
}

// newSupervisor builds the supervisor, with the services the keeper still
// holds restored, and lets go of the processes no configured service owns.
func (c *core) newSupervisor(environ []string) error {
	restored, strays := restoreTable(c.cfg, c.kl, c.log)
	for _, name := range strays {
		// Left by a core that ran another config: not ours any more.
		c.log.Warn("stopping a process no configured service owns", "name", name)
		if err := c.kl.Forget(name); err != nil {
			c.log.Warn("forget", "name", name, "err", err)
		}
	}
	c.restored = len(restored)
	hello, kl, events := c.hello, c.kl, c.events
	sup, err := supervisor.New(c.cfg, supervisor.Options{
		Logger:      c.log,
		Runner:      kl.Runner(),
		Capture:     kl.Capture(),
		Containment: hello.Containment,
		Environ:     environ,
		Rand:        rand.Float64,
		Journal:     c.alerts,
		Load:        c.loadConfig,
		Save:        saver(kl, c.log),
		Restored:    restored,
		Sockets:     socketsOf(kl),
		Describe: func(s *api.Supervisor) {
			s.Pid = hello.KeeperPid
			s.CorePid = os.Getpid()
			s.StartedAt = hello.StartedAt
			s.CoreRestarts = hello.CoreRestarts
			s.Binary = hello.Binary
			s.Platform = hello.Platform
			s.LogDropped = kl.LogDropped("")
			s.JournalDropped = events.Dropped()
			if u := hello.Upgrade; u != nil {
				s.LastUpgrade = &api.Upgraded{At: u.At, From: u.From, To: u.To, Active: u.Active, Error: u.Error}
			}
		},
	})
	if err != nil {
		return err
	}
	c.sup = sup
	return nil
}

// loadConfig reads the config for a reload, and hands its alerts section
// to the notifier, which puts it in force when the reload is applied (its
// journal event), not at a dry run.
func (c *core) loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path, os.LookupEnv)
	if err == nil {
		c.alerts.Stage(cfg.Alerts)
	}
	return cfg, err
}

// listen makes the API server and opens its listeners: the control socket,
// and HTTP when configured.
func (c *core) listen(httpToken string) error {
	c.srv = server.New(server.Options{
		Backend:  backend{c.sup},
		Events:   c.events,
		Logger:   c.log,
		Shutdown: c.requestShutdown,
		Done:     c.sup.Done(),
		Audit:    c.events.Record,
		Upgrade:  c.kl.Upgrade,
		Page:     web.Handler(),
		Alerts:   c.alerts,
	})
	c.sockPath = c.dir.Join(sockName)
	if err := c.dir.RemoveSocket(sockName); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	// Restored services get their state back before anything can ask; this
	// spawns nothing.
	c.sup.Resume()
	l, err := c.srv.ListenSocket(c.sockPath, server.Access{AllowGroup: c.cfg.Supervisor.API.AllowGroup})
	if err != nil {
		return err
	}
	c.listeners = append(c.listeners, l)
	if h := c.cfg.Supervisor.HTTP; h != nil {
		hl, err := c.srv.ListenHTTP(h.Listen, httpToken, metrics.Handler(coreMetrics{c.sup, c.kl, c.events, c.alerts}))
		if err != nil {
			l.Close()
			return err
		}
		c.listeners = append(c.listeners, hl)
		c.log.Info("http listener", "addr", hl.Addr().String())
	}
	return nil
}

func (c *core) requestShutdown() {
	select {
	case c.shutdown <- struct{}{}:
	default:
	}
}

// close releases what newCore opened; the journal may be closed already.
func (c *core) close() {
	if c.alerts != nil {
		c.alerts.Close()
	}
	if c.events != nil {
		c.events.Close()
	}
	if c.kl != nil {
		c.kl.Close()
	}
	if c.dir != nil {
		c.dir.Close()
	}
}

// recordCoreStart files how the previous core ended, as a supervisor event:
// a crash of respawn itself, never a failure of a service.
func recordCoreStart(events alerts.Recorder, h keeper.Hello) {
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
func saver(cl keeperLink, log *slog.Logger) func(string, service.Saved) {
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

func (q *saveQueue) run(cl keeperLink, log *slog.Logger) {
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
				// The keeper is gone or done with this core, or the core
				// closed the link itself after its bye: nothing to keep.
				if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.EBADF) || errors.Is(err, keeper.ErrPeerGone) || isClosed(cl.Closed()) {
					return
				}
				log.Warn("save state", "service", name, "err", err)
			}
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// maxSaved keeps a saved state well inside one keeper message.
const maxSaved = 128 << 10

// restoreTable matches the keeper's table and saved states to the configured
// services. strays are names of live processes no configured service owns.
func restoreTable(cfg *config.Config, cl keeperLink, log *slog.Logger) (map[string]supervisor.Restored, []string) {
	names := map[string]bool{}
	for _, sc := range cfg.Services {
		names[sc.Name] = true
	}
	newest := map[string]*keeper.Process{}
	for _, p := range cl.Table() {
		newest[p.Name()] = p // the table is oldest first
	}
	out := map[string]supervisor.Restored{}
	var strays []string
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
		// A start-first restart runs its replacement under the other
		// process name: the saved state says which one is the service.
		own, other := name, name+service.ReplacementSuffix
		if s.Slot {
			own, other = other, own
		}
		if p := newest[own]; p != nil && !handled(s, p) {
			r.Process = remoteProcess{p}
		}
		out[name] = r
		// The other (a replacement not yet ready, or one being replaced)
		// was the core's before to see through: it goes.
		if p := newest[other]; p != nil && !isClosed(p.Done()) {
			strays = append(strays, other)
		}
		delete(newest, other)
		delete(newest, own)
	}
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
	cl     keeperLink
	events *journal.Journal
	alerts *alerts.Notifier
}

func (c coreMetrics) Totals() metrics.Totals {
	return metrics.Totals{LogDropped: c.cl.LogDropped(""), JournalDropped: c.events.Dropped(), AlertsDropped: c.alerts.Dropped()}
}

// recordDrops files an event each time a log starts or stops dropping lines,
// until the keeper connection ends. logDir holds the services' logs, named
// after them.
func recordDrops(cl keeperLink, events *journal.Journal, logDir string) {
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
