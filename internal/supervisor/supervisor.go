// Package supervisor owns the set of services: it starts them, routes commands to them and stops them in order.
package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/health"
	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/service"
	"github.com/respawn-sh/respawn/internal/version"
)

// Runner spawns processes and forgets services that are gone for good.
type Runner interface {
	service.Runner
	// Forget releases what the runner keeps for a removed service (its cgroup).
	Forget(name string) error
	// Adopt takes over a daemon a service's launcher left running (our
	// descendant, re-parented to us).
	Adopt(name string, pid int) (service.Process, error)
	// Watch follows a process that is not ours (an external service).
	Watch(name string, pid int) (service.Process, error)
}

// Options are the supervisor's collaborators.
type Options struct {
	Logger      *slog.Logger
	Runner      Runner
	Capture     Capture
	Containment string
	// Environ is the base environment of every service (the supervisor's own).
	Environ []string
	// Rand returns numbers in [0,1) for backoff jitter.
	Rand func() float64
	// Journal records events; may be nil.
	Journal service.Journal
	// Load re-reads the config for a reload; nil means config.Load from the
	// current config's path with the supervisor's environment.
	Load func(path string) (*config.Config, error)
	// Save, when set, receives what a service keeps across a restart of the
	// supervisor core, each time it changes. It is called on the service's
	// actor goroutine and must not block.
	Save func(name string, s service.Saved)
	// Restored are the services a previous supervisor core left, by service
	// name (a replica by its instance name, e.g. "web.2"). Start resumes
	// each configured one instead of starting it afresh.
	Restored map[string]Restored
	// Sockets holds the services' listening sockets; nil when the runner
	// cannot (a config with listen is then refused).
	Sockets Sockets
	// Describe, when set, fills in what the supervisor cannot know of itself
	// in status: the keeper's pid, the core restarts, the last upgrade.
	Describe func(*api.Supervisor)
}

// Restored is one service as a previous supervisor core left it.
type Restored struct {
	Saved service.Saved
	// Process is the live process of incarnation Saved.Gen (it may have
	// exited meanwhile), nil when none is left.
	Process service.Process
}

// UnknownServiceError names services a command referred to that do not
// exist, with the name each is likely a typo of.
type UnknownServiceError struct {
	Names       []string
	Suggestions map[string]string // unknown name → the known one it is close to
}

func (e *UnknownServiceError) Error() string {
	parts := make([]string, len(e.Names))
	for i, n := range e.Names {
		parts[i] = n
		if s := e.Suggestions[n]; s != "" {
			parts[i] += fmt.Sprintf(" (did you mean %q?)", s)
		}
	}
	return "unknown service: " + strings.Join(parts, ", ")
}

// APICode classifies the error for the API (404).
func (e *UnknownServiceError) APICode() string { return api.CodeUnknownService }

// ErrShuttingDown is returned for commands that arrive while the supervisor stops.
var ErrShuttingDown error = shuttingDownError{}

type shuttingDownError struct{}

func (shuttingDownError) Error() string { return "supervisor is shutting down" }

// APICode classifies the error for the API (503).
func (shuttingDownError) APICode() string { return api.CodeShuttingDown }

// member is one service and what the supervisor keeps for it.
type member struct {
	svc *service.Service
	// specp is the service's definition; a reload swaps it while the
	// coordinator and the API read it.
	specp atomic.Pointer[config.Service]
	// sink is the service's log: set before the member is shared, never
	// changed (the API reads it while a shutdown closes it).
	sink       Sink
	sinkClosed sync.Once
	// usage is the last CPU measurement for status (cpuPercent).
	usage atomic.Pointer[usageSample]
	// dropped counts the lines its log could not write; set before the
	// member is shared, never changed. nil when the sink does not count.
	dropped func() uint64
	// notify is the sd_notify endpoint, nil when the service uses none; a
	// reload may set it while `why` reads it.
	notify atomic.Pointer[health.Notify]
	// live is svc once built, for the notify socket's reader, which may
	// receive before.
	live atomic.Pointer[service.Service]
	// running: run started the actor. Touched by whoever owns the set of
	// services: Resume before the loop, the loop, Stop after it.
	running bool
}

func (m *member) spec() *config.Service { return m.specp.Load() }

// logDropped returns how many lines the service's log dropped.
func (m *member) logDropped() uint64 {
	if m.dropped == nil {
		return 0
	}
	return m.dropped()
}

// Supervisor owns the services of one config.
type Supervisor struct {
	opts      Options
	log       *slog.Logger
	startedAt time.Time
	// stateDir is where logs and notify sockets go; a reload cannot move it.
	stateDir string

	// roster is the set of services and the config they come from. The
	// loop is its only writer (a reload); everyone else reads the roster
	// last published, which never changes.
	roster atomic.Pointer[roster]
	// nextRuns is when each scheduled service runs next, as the loop last
	// published it.
	nextRuns atomic.Pointer[map[string]time.Time]

	// inbox takes work for the loop (see onLoop); the loop owns what the
	// fields below it hold.
	inbox   chan func()
	loopEnd chan struct{} // closed when the loop has returned
	timers  map[string]*schedTimer
	shut    bool // the loop refuses reloads: the supervisor stops

	wake      chan struct{}    // 1 slot: some service published a change
	toStart   map[*member]bool // set by Resume: which services Start starts
	stopCoord context.CancelFunc
	stopOnce  sync.Once
	stopped   chan struct{} // closed when Shutdown has stopped every service
	closing   chan struct{} // closed when Shutdown begins
}

// New builds the services of cfg without starting anything.
func New(cfg *config.Config, opts Options) (*Supervisor, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Journal == nil {
		opts.Journal = nopJournal{}
	}
	if opts.Load == nil {
		opts.Load = func(path string) (*config.Config, error) { return config.Load(path, os.LookupEnv) }
	}
	s := &Supervisor{
		opts:      opts,
		log:       opts.Logger,
		startedAt: time.Now(),
		stateDir:  cfg.Supervisor.StateDir,
		stopped:   make(chan struct{}),
		closing:   make(chan struct{}),
		wake:      make(chan struct{}, 1),
		inbox:     make(chan func()),
		loopEnd:   make(chan struct{}),
		timers:    map[string]*schedTimer{},
	}
	s.nextRuns.Store(&map[string]time.Time{})
	// The sockets first: a port in use fails `up` before anything starts.
	// A core after a crash finds them held; what the file no longer names
	// is closed.
	held := s.heldSockets()
	want := socketsOf(cfg)
	if err := s.openSockets(want, held); err != nil {
		return nil, err
	}
	if err := s.closeSockets(want, held); err != nil {
		s.log.Warn("close sockets", "err", err)
	}
	// Members are built side by side: opening a log may be a round trip to
	// the keeper, and a thousand of them in a row add up.
	members := make([]*member, len(cfg.Services))
	errs := make([]error, len(cfg.Services))
	var wg sync.WaitGroup
	slots := make(chan struct{}, newMemberParallel)
	for i, sc := range cfg.Services {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			members[i], errs[i] = s.newMember(sc)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			// The first failure in config order; nothing of the others stays open.
			for _, m := range members {
				if m != nil {
					m.closeNotify()
					m.closeSink(s.log)
				}
			}
			return nil, err
		}
	}
	s.roster.Store(newRoster(cfg, members))
	return s, nil
}

// newMemberParallel bounds how many members are built (and started) at once.
const newMemberParallel = 16

type nopJournal struct{}

func (nopJournal) Record(api.Event) {}

// newMember builds a service's actor and opens its log, without running it.
func (s *Supervisor) newMember(sc *config.Service) (*member, error) {
	scfg, err := serviceConfig(sc, s.opts.Environ)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", sc.Name, err)
	}
	m := &member{}
	m.specp.Store(sc)
	if err := s.setProbes(m, sc, &scfg); err != nil {
		m.closeNotify()
		return nil, err
	}
	var out service.Output
	if s.opts.Capture != nil {
		sink, err := s.opts.Capture.Open(config.LogPath(s.stateDir, sc.Name),
			logs.Options{MaxSize: sc.Logs.MaxSize, MaxFiles: sc.Logs.MaxFiles})
		if err != nil {
			m.closeNotify()
			return nil, fmt.Errorf("service %s: open log: %w", sc.Name, err)
		}
		m.sink = sink
		out = sink
		if d, ok := sink.(interface{ Dropped() uint64 }); ok {
			m.dropped = d.Dropped
		}
	}
	var save func(service.Saved)
	if s.opts.Save != nil {
		name, saveAll := sc.Name, s.opts.Save
		save = func(v service.Saved) { saveAll(name, v) }
	}
	m.svc = service.New(scfg, service.Options{
		Runner:      s.opts.Runner,
		Output:      out,
		Logger:      s.log,
		Rand:        s.opts.Rand,
		Containment: s.opts.Containment,
		Journal:     s.opts.Journal,
		Gate:        s.gate(sc.Name),
		Notify:      s.wakeCoordinator,
		Save:        save,
	})
	m.live.Store(m.svc)
	return m, nil
}

// setProbes gives scfg the service's probes, opening its sd_notify socket
// (and telling the service where it is) when it uses one.
func (s *Supervisor) setProbes(m *member, sc *config.Service, scfg *service.Config) error {
	if usesNotify(sc) {
		path := notifyPath(s.stateDir, sc.Name)
		n := m.notify.Load()
		if n == nil {
			var err error
			if n, err = s.openNotify(m, path); err != nil {
				return fmt.Errorf("service %s: notify socket: %w", sc.Name, err)
			}
			m.notify.Store(n)
		}
		// Every time: a reload may change the user.
		if err := s.ownNotify(n, sc, path); err != nil {
			return fmt.Errorf("service %s: notify socket: %w", sc.Name, err)
		}
		scfg.Spec.Env = append(scfg.Spec.Env, "NOTIFY_SOCKET="+path)
		if sc.Health != nil && sc.Health.Watchdog > 0 {
			scfg.Spec.Env = append(scfg.Spec.Env, fmt.Sprintf("WATCHDOG_USEC=%d", sc.Health.Watchdog.Microseconds()))
		}
	}
	scfg.Probes = s.probes(sc, m.notify.Load())
	scfg.Find = s.finder(sc)
	return nil
}

// run starts the member's actor.
func (m *member) run() {
	m.svc.Go()
	m.running = true
}

// retire ends the actor and closes the log. The service must be down.
func (m *member) retire(log *slog.Logger) {
	if m.running {
		m.svc.End()
		<-m.svc.Ended()
	}
	m.closeSink(log)
	m.closeNotify()
}

func (m *member) closeNotify() {
	if n := m.notify.Swap(nil); n != nil {
		n.Close()
	}
}

func (m *member) closeSink(log *slog.Logger) {
	if m.sink == nil {
		return
	}
	m.sinkClosed.Do(func() {
		if err := m.sink.Close(); err != nil {
			log.Warn("close log", "path", m.sink.Path(), "err", err)
		}
	})
}

// Resume runs every service's actor, giving each service in
// Options.Restored the state it had under the last core, and starts the
// coordinator. It spawns nothing, so it is quick: a core calls it before it
// answers on its socket, which then never shows a restored service as it was
// before its state came back. Start calls it when it has not run.
func (s *Supervisor) Resume() {
	if s.toStart != nil {
		return
	}
	r := s.roster.Load()
	members := r.inOrder(allNames(r.members))
	path := r.cfg.Path
	toStart := make(map[*member]bool, len(members))
	for _, m := range members {
		if r, ok := s.opts.Restored[m.spec().Name]; ok {
			toStart[m] = m.svc.Restore(r.Saved, r.Process)
		} else {
			toStart[m] = m.spec().Autostart
		}
		m.run()
	}
	s.toStart = toStart
	ctx, cancel := context.WithCancel(context.Background())
	s.stopCoord = cancel
	go s.run(ctx)
	s.log.Info("supervisor started", "services", len(members), "config", path)
	s.opts.Journal.Record(api.Event{Type: api.EventSupervisor, Pid: os.Getpid(),
		Message: fmt.Sprintf("started with %d services from %s", len(members), path)})
}

// Start resumes (see Resume) and starts the services marked autostart. A
// service in Options.Restored is started only when it was wanted up and has
// no process left. It returns once each service it starts has been spawned
// (or failed to be). Resume and Start are called once, from one goroutine.
func (s *Supervisor) Start() {
	s.Resume()
	r := s.roster.Load()
	members := r.inOrder(allNames(r.members))
	toStart := s.toStart
	// Issued in dependency order, a few at a time: each start waits for its
	// spawn, which may be a round trip to the keeper, and the forks themselves
	// are serialized anyway; a dependent waits at its gate whatever the order.
	var wg sync.WaitGroup
	slots := make(chan struct{}, newMemberParallel)
	for _, m := range members {
		if !toStart[m] {
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if _, err := m.svc.Start(context.Background()); err != nil {
				s.log.Error("autostart", "service", m.spec().Name, "err", err)
			}
		})
	}
	wg.Wait()
	_ = s.onLoop(context.Background(), s.armSchedules)
}

// Done is closed once Shutdown has stopped every service.
func (s *Supervisor) Done() <-chan struct{} { return s.stopped }

// Shutdown stops every service and then the actors. Stops are issued in reverse
// start order and proceed in parallel, each bounded by its own stop timeout.
// It is safe to call more than once; later calls wait for the first.
func (s *Supervisor) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		close(s.closing)
		// The loop runs reloads one at a time: once it has done this, a
		// reload in progress has finished and no other will start, so no
		// service is added behind our back.
		_ = s.onLoop(context.Background(), func() {
			s.shut = true
			s.disarmSchedules()
		})
		s.log.Info("supervisor stopping")
		s.opts.Journal.Record(api.Event{Type: api.EventSupervisor, Pid: os.Getpid(), Message: "stopping every service"})
		members := slices.Clone(s.roster.Load().members)
		// Dependents stop before what they depend on; the rest in parallel.
		for _, r := range s.stopInOrder(ctx, members) {
			if r.Error != "" {
				s.log.Error("stop", "service", r.Name, "err", r.Error)
			}
		}
		if s.stopCoord != nil {
			s.stopCoord()
			<-s.loopEnd
		}
		for _, m := range members {
			m.retire(s.log)
		}
		s.log.Info("supervisor stopped")
		s.opts.Journal.Record(api.Event{Type: api.EventSupervisor, Pid: os.Getpid(), Message: "stopped"})
		close(s.stopped)
	})
	select {
	case <-s.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status returns the supervisor's identity and one row per named service (all
// when names is empty), in config order, with each running service's CPU and
// memory.
func (s *Supervisor) Status(names []string) (api.Status, error) { return s.status(names, true) }

// Overview is Status without CPU and memory: measuring them asks the keeper to
// read a few files per service, which a caller polling states while a
// thousand services start does not need.
func (s *Supervisor) Overview(names []string) (api.Status, error) { return s.status(names, false) }

func (s *Supervisor) status(names []string, usage bool) (api.Status, error) {
	list, err := s.resolve(names)
	if err != nil {
		return api.Status{}, err
	}
	cfg := s.roster.Load().cfg
	path, stateDir := cfg.Path, cfg.Supervisor.StateDir
	st := api.Status{
		Supervisor: api.Supervisor{
			Pid:         os.Getpid(),
			CorePid:     os.Getpid(),
			Version:     version.Get().Version,
			Config:      path,
			StateDir:    stateDir,
			StartedAt:   s.startedAt,
			Containment: s.opts.Containment,
		},
		Services: make([]api.Service, 0, len(list)),
	}
	if s.opts.Describe != nil {
		s.opts.Describe(&st.Supervisor)
	}
	// Usage measured less than minUsageWindow ago is answered as it was;
	// the rest is measured, in one batch.
	now := time.Now()
	snaps := make([]service.Snapshot, len(list))
	recent := make([]*usageSample, len(list))
	var measure []*member
	var at []int
	for i, m := range list {
		snaps[i] = m.svc.Snapshot()
		if snaps[i].Pid == 0 || !usage {
			continue
		}
		if recent[i] = m.recentUsage(now, snaps[i].StartedAt); recent[i] == nil {
			measure = append(measure, m)
			at = append(at, i)
		}
	}
	used := make([]Usage, len(list))
	for j, u := range s.usages(measure) {
		used[at[j]] = u
	}
	for i, m := range list {
		sn := snaps[i]
		row := statusRow(sn)
		row.LogDropped = m.logDropped()
		switch u := used[i]; {
		case sn.Pid == 0 || !usage:
		case recent[i] != nil:
			pct, mem := recent[i].percent, recent[i].mem
			row.CPUPercent, row.MemoryBytes = &pct, &mem
		case u.OK:
			pct := m.cpuPercent(now, sn.StartedAt, u.CPU, u.Mem)
			row.CPUPercent, row.MemoryBytes = &pct, &u.Mem
		}
		if next := (*s.nextRuns.Load())[m.spec().Name]; !next.IsZero() {
			t := next.Truncate(time.Millisecond)
			row.NextRunAt = &t
		}
		st.Services = append(st.Services, row)
	}
	return st, nil
}

// StartServices starts the named services and waits until each is running (a
// oneshot: exited) or has failed.
func (s *Supervisor) StartServices(ctx context.Context, names []string) ([]api.Result, error) {
	return s.command(ctx, names, actStart)
}

// StopServices stops the named services and waits until each is down.
func (s *Supervisor) StopServices(ctx context.Context, names []string) ([]api.Result, error) {
	return s.command(ctx, names, actStop)
}

// RestartServices restarts the named services and waits until each runs a new incarnation.
func (s *Supervisor) RestartServices(ctx context.Context, names []string) ([]api.Result, error) {
	return s.command(ctx, names, actRestart)
}

func (s *Supervisor) command(ctx context.Context, names []string, a action) ([]api.Result, error) {
	select {
	case <-s.closing:
		return nil, ErrShuttingDown
	default:
	}
	list, err := s.resolve(names)
	if err != nil {
		return nil, err
	}
	named := allNames(list)
	switch a {
	case actStart:
		// What the named services need is started too, first.
		all := s.roster.Load().withDependencies(list)
		return noted(s.act(ctx, all, a), named, "started first: %s needs it", dependentsIn(all, named)), nil
	case actStop:
		// What needs the named services is stopped too, first.
		all := s.roster.Load().withDependents(list)
		return noted(s.stopInOrder(ctx, all), named, "stopped first: it needs %s", nil), nil
	}
	return s.act(ctx, list, a), nil
}

func allNames(list []*member) map[string]bool {
	out := make(map[string]bool, len(list))
	for _, m := range list {
		out[m.spec().Name] = true
	}
	return out
}

// dependentsIn maps each member of all to the named services that need it.
func dependentsIn(all []*member, named map[string]bool) map[string][]string {
	out := map[string][]string{}
	for _, m := range all {
		if !named[m.spec().Name] {
			continue
		}
		for _, d := range m.spec().DependsOn {
			out[d.Name] = append(out[d.Name], m.spec().Name)
		}
	}
	return out
}

// noted marks the results of services acted on only because of the named ones.
func noted(results []api.Result, named map[string]bool, format string, needers map[string][]string) []api.Result {
	var who []string
	for n := range named {
		who = append(who, n)
	}
	slices.Sort(who)
	for i, r := range results {
		if named[r.Name] {
			continue
		}
		arg := strings.Join(who, ", ")
		if needers != nil && len(needers[r.Name]) > 0 {
			arg = strings.Join(needers[r.Name], ", ")
		}
		results[i].Note = fmt.Sprintf(format, arg)
	}
	return results
}

// resolve maps names to members in config order; empty or "all" means every service.
func (s *Supervisor) resolve(names []string) ([]*member, error) {
	return s.roster.Load().resolve(names)
}
