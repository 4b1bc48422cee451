package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/policy"
	"github.com/respawn-sh/respawn/internal/proc"
	"golang.org/x/sys/unix"
)

// Runner starts processes. The supervisor gives the in-process spawner; a keeper
// client can implement the same interface from another process.
type Runner interface {
	Spawn(spec proc.Spec) (Process, error)
}

// Process is one running incarnation, as a Runner hands it out.
type Process interface {
	Pid() int
	StartedAt() time.Time
	Stdout() *os.File
	Stderr() *os.File
	Done() <-chan struct{}
	Exit() proc.Exit
	Signal(sig syscall.Signal) error
	KillTree() error
	WaitTreeGone(ctx context.Context) error
}

// Output receives a service's output streams; the lines of one run also go to
// that run's tail, which `why` shows next to the run's exit.
type Output interface {
	AttachTail(stream logs.Stream, r *os.File, t *logs.Tail) (<-chan struct{}, error)
}

// tailLines is how many lines of each run are kept for its exit record.
const tailLines = 10

// tailWait bounds the wait for a run's output to drain after it exited.
const tailWait = 2 * time.Second

// Journal records what happens to the service.
type Journal interface {
	Record(e api.Event)
}

// Config is what the actor needs to run one service.
type Config struct {
	Name        string
	Kind        Kind
	Spec        proc.Spec
	Policy      policy.Params
	StopSignal  syscall.Signal
	StopTimeout time.Duration
	// StopCommand, when set, is run to stop the service instead of sending
	// StopSignal (the stop timeout and the kill after it still apply).
	StopCommand []string
	Probes      Probes
	// Find locates the process that is the service when it is not what Spec
	// spawns: the daemon a `forking` launcher left running (afterLaunch), or
	// an `external` process (before or after its start command ran). nil for
	// the other kinds.
	Find func(ctx context.Context, afterLaunch bool) (Process, error)
}

// Incarnation is what a probe knows of one run of the service.
type Incarnation struct {
	Gen     uint64
	Pid     int
	Process Process
	// Output is the run's output (for log readiness); nil when the run's
	// output is not known.
	Output RunOutput
}

// Probes are a service's readiness and liveness checks. The supervisor builds
// them from the config; each runs in its own goroutine for one incarnation and
// ends with it.
type Probes struct {
	// Ready returns nil once the incarnation is ready, or an error when it
	// will not be (its deadline passed). nil: ready as soon as spawned.
	Ready func(ctx context.Context, inc Incarnation) error
	// Watch checks a running incarnation until ctx ends: report tells each
	// change of health, unhealthy (called at most once) asks for a restart.
	// nil: no liveness check.
	Watch func(ctx context.Context, inc Incarnation, report func(healthy bool, err error), unhealthy func(error))
	// Prepare runs right before each spawn, so that what the probes keep of
	// an earlier run (a READY=1 already received) cannot speak for the next.
	Prepare func()
}

// Options are the actor's collaborators.
type Options struct {
	Runner Runner
	Output Output
	Logger *slog.Logger
	// Rand returns a number in [0,1) for backoff jitter.
	Rand        func() float64
	Containment string
	// Journal may be nil.
	Journal Journal
	// Gate says whether what the service depends on is satisfied, and if not,
	// what it waits for. It is asked before every spawn; nil means always open.
	Gate func() (ok bool, w Wait)
	// Notify is called after every published change; it must not block.
	Notify func()
	// Save, when set, is called on the actor's goroutine after a publish
	// whenever what the service keeps across a restart of the supervisor core
	// changed since the last call. It must not block: it hands the values on
	// (the slices and map in Saved are never mutated after the call).
	Save func(Saved)
}

type discardJournal struct{}

func (discardJournal) Record(api.Event) {}

// treeGoneTimeout bounds how long a stop waits for the killed tree to vanish.
const treeGoneTimeout = 5 * time.Second

type op uint8

const (
	opStart op = iota
	opStop
	opRestart
	opSignal      // deliver sig to the current incarnation's process group
	opReconfigure // take cfg; restart the service when restart is set
	opRelease     // what a waiting service depends on is satisfied now
	opTail        // a run's output is drained: file its last lines with its exit
	opProbe       // a probe of incarnation gen says ev (EvReady, EvReadyFailed, EvUnhealthy)
	opFound       // Find answered for incarnation gen
	opHealth      // a liveness check of incarnation gen reports healthy or not
)

type request struct {
	op      op
	gen     uint64
	found   Process
	after   bool
	ev      Event
	healthy bool
	err     error
	lines   []logs.Line
	sig     syscall.Signal
	cfg     *Config
	restart bool
	reply   chan reply
}

type reply struct {
	seq uint64
	err error
}

// published pairs a snapshot with the channel closed when a newer one replaces it.
type published struct {
	snap    Snapshot
	changed chan struct{}
}

// Service is one service's actor. All its mutable state is owned by the goroutine
// running Run; other goroutines talk to it through commands and snapshots.
type Service struct {
	// name never changes (a reload keeps a service's name), so any goroutine
	// may read it; cfg, which a reload replaces, is the actor's alone.
	name  string
	cfg   Config
	opts  Options
	log   *slog.Logger
	inbox chan request
	cur   atomic.Pointer[published]
	ended chan struct{} // closed when Run returns: commands then fail at once
	// running is the live incarnation, for readers outside the actor (metrics).
	running atomic.Pointer[liveProc]

	// Fields below are owned by the Run goroutine.
	state     State
	since     time.Time
	wanted    bool
	seq       uint64
	gen       uint64
	proc      Process
	live      bool // proc has not been seen to exit yet
	startedAt time.Time
	restarts  int
	hist      policy.History
	lastExit  *proc.Exit
	exits     []ExitRecord
	// exitCounts counts exits by reason; replaced, never mutated, once published.
	exitCounts map[string]uint64
	errText    string
	waitingOn  Wait
	// incCancel ends the probes of the current incarnation.
	incCancel context.CancelFunc
	// probeErr is the last probe failure that changed the state.
	probeErr string
	// readyFailed marks an incarnation killed because it never became ready.
	readyFailed bool
	// restartDue marks a stop asked by the liveness check: the next spawn is a restart.
	restartDue bool
	// launching marks a live process that is a launcher (forking, or an
	// external's start command): its success means "go and find the service".
	launching bool
	health    Health
	// out is the current incarnation's output.
	out      RunOutput
	decision policy.Decision
	timer    *time.Timer
	timerEv  Event
	timerAt  time.Time
	// saved is what Save was last given.
	saved Saved
	// keepHistory makes the first start after a restore keep the restored
	// restart history: it is the supervisor resuming, not a person acting.
	keepHistory bool
}

// New returns a service in state stopped. Run must be started for it to act.
func New(cfg Config, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Rand == nil {
		opts.Rand = func() float64 { return 0.5 }
	}
	if opts.Journal == nil {
		opts.Journal = discardJournal{}
	}
	if opts.Gate == nil {
		opts.Gate = func() (bool, Wait) { return true, Wait{} }
	}
	if opts.Notify == nil {
		opts.Notify = func() {}
	}
	s := &Service{
		name:  cfg.Name,
		cfg:   cfg,
		opts:  opts,
		log:   opts.Logger.With("service", cfg.Name),
		inbox: make(chan request, 4),
		ended: make(chan struct{}),
		since: time.Now(),
	}
	// A new service has nothing worth keeping, and saving its blank state
	// would overwrite, in the keeper, the state a restarted core is about to
	// restore (Restore only saves what differs from what it restored).
	s.saved = s.savedNow()
	s.publish()
	return s
}

// Name returns the service's name.
func (s *Service) Name() string { return s.name }

// Kind returns the service's kind, as last published: a reload may change it.
func (s *Service) Kind() Kind { return s.cur.Load().snap.Kind }

// Snapshot returns the latest published picture of the service.
func (s *Service) Snapshot() Snapshot { return s.cur.Load().snap }

// Watch returns the latest snapshot and a channel closed when a newer one is published.
func (s *Service) Watch() (Snapshot, <-chan struct{}) {
	p := s.cur.Load()
	return p.snap, p.changed
}

// Start asks the service to be up. It returns the Seq at which the request was applied.
func (s *Service) Start(ctx context.Context) (uint64, error) { return s.send(ctx, opStart) }

// Stop asks the service to be down.
func (s *Service) Stop(ctx context.Context) (uint64, error) { return s.send(ctx, opStop) }

// Restart stops the current incarnation, if any, and starts a new one.
func (s *Service) Restart(ctx context.Context) (uint64, error) { return s.send(ctx, opRestart) }

// ErrNotRunning is returned by commands sent to a service whose actor has stopped.
var ErrNotRunning = errors.New("service actor is not running")

// Signal sends sig to the process group of the running incarnation. It fails
// with ErrNoProcess when no process of the service is alive.
func (s *Service) Signal(ctx context.Context, sig syscall.Signal) (uint64, error) {
	return s.do(ctx, request{op: opSignal, sig: sig})
}

// Reconfigure replaces the service's definition. With restart, a running
// service is stopped and started again with the new definition, and one that
// is backing off or failed starts afresh; without, the new settings (restart
// policy, stop signal and timeout) apply from the next decision on.
func (s *Service) Reconfigure(ctx context.Context, cfg Config, restart bool) (uint64, error) {
	return s.do(ctx, request{op: opReconfigure, cfg: &cfg, restart: restart})
}

// Release tells a waiting service that what it depends on has changed: it is
// spawned if the gate agrees, else what it waits for is asked anew (the
// dependencies' states it names are current). A service that is not waiting
// ignores it.
func (s *Service) Release(ctx context.Context) (uint64, error) {
	return s.do(ctx, request{op: opRelease})
}

// ErrNoProcess is returned by Signal when the service has no live process.
var ErrNoProcess = errors.New("no process is running")

func (s *Service) send(ctx context.Context, o op) (uint64, error) {
	return s.do(ctx, request{op: o})
}

func (s *Service) do(ctx context.Context, r request) (uint64, error) {
	r.reply = make(chan reply, 1)
	select {
	case s.inbox <- r:
	case <-s.ended:
		return 0, ErrNotRunning
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case rep := <-r.reply:
		return rep.seq, rep.err
	case <-s.ended:
		return 0, ErrNotRunning
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

type liveProc struct{ p Process }

// oomReporter is implemented by processes that can tell an OOM kill.
type oomReporter interface {
	OOMKilled() bool
}

// usager is implemented by processes that can measure their tree.
type usager interface {
	Usage() (cpu time.Duration, memBytes uint64, err error)
}

// Usage returns the CPU time and memory of the live incarnation's process
// tree; ok is false when no process runs or it cannot be measured.
func (s *Service) Usage() (cpu time.Duration, memBytes uint64, ok bool) {
	lp := s.running.Load()
	if lp == nil {
		return 0, 0, false
	}
	u, isUsager := lp.p.(usager)
	if !isUsager {
		return 0, 0, false
	}
	cpu, memBytes, err := u.Usage()
	return cpu, memBytes, err == nil
}

// Await waits until pred reports done for a snapshot published at or after seq,
// and returns pred's error. It returns ctx's error if ctx ends first.
func (s *Service) Await(ctx context.Context, seq uint64, pred func(Snapshot) (bool, error)) error {
	for {
		snap, changed := s.Watch()
		if snap.Seq >= seq {
			if done, err := pred(snap); done {
				return err
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%s: still %s: %w", s.name, snap.State, ctx.Err())
		}
	}
}

// Run is the actor loop. It returns when ctx ends, leaving any process as it is:
// the caller stops services before cancelling ctx when it wants them down.
func (s *Service) Run(ctx context.Context) {
	defer close(s.ended)
	for {
		var exitC <-chan struct{}
		if s.live {
			exitC = s.proc.Done()
		}
		var timerC <-chan time.Time
		if s.timer != nil {
			timerC = s.timer.C
		}
		select {
		case <-ctx.Done():
			s.cancelTimer()
			if s.incCancel != nil {
				s.incCancel() // probes end with the actor
			}
			return
		case r := <-s.inbox:
			s.serve(r)
		case <-exitC:
			s.exited()
		case <-timerC:
			ev := s.timerEv
			s.timer, s.timerAt = nil, time.Time{}
			s.fire(ev)
		}
	}
}

// serve answers one request. Kept out of Run so that Run's frame, which every
// idle actor's stack holds, stays small.
//
//go:noinline
func (s *Service) serve(r request) {
	err := s.command(r)
	r.reply <- reply{seq: s.seq, err: err}
}

func (s *Service) command(r request) error {
	switch r.op {
	case opSignal:
		if !s.live {
			return ErrNoProcess
		}
		if err := s.proc.Signal(r.sig); err != nil {
			return err
		}
		return nil
	case opReconfigure:
		s.cfg = *r.cfg
		s.cfg.Name = s.name
		if r.restart {
			switch s.state {
			case Running, Starting:
				s.wanted = true
				s.fire(EvStop)
			case Backoff, Failed:
				s.wanted = true
				s.fire(EvStart)
			}
		}
	case opRelease:
		if s.state == Waiting {
			if ok, w := s.opts.Gate(); !ok {
				// Still held: what it waits for may read differently now.
				s.waitingOn = w
				break
			}
		}
		s.fire(EvDepsReady)
	case opTail:
		s.fileTail(r.gen, r.lines)
	case opProbe:
		if r.gen != s.gen || !s.live {
			return nil // about an incarnation that is gone
		}
		if r.err != nil {
			s.probeErr = r.err.Error()
		}
		if r.ev == EvUnhealthy {
			s.health, s.restartDue = Unhealthy, true
		}
		s.fire(r.ev)
	case opFound:
		s.found(r)
	case opHealth:
		if r.gen != s.gen || !s.live {
			return nil
		}
		s.health = Unhealthy
		if r.healthy {
			s.health = Healthy
		}
	case opStart:
		s.wanted = true
		s.fire(EvStart)
	case opStop:
		s.wanted, s.keepHistory = false, false
		s.fire(EvStop)
	case opRestart:
		s.wanted = true
		if s.state == Running || s.state == Starting {
			s.fire(EvStop)
		} else {
			s.fire(EvStart)
		}
	}
	// A command that changed nothing still publishes, so its waiter sees a Seq.
	s.publish()
	return nil
}

// exited classifies the exit of the current incarnation into an event.
func (s *Service) exited() {
	now := time.Now()
	s.live = false
	s.running.Store(nil)
	if s.incCancel != nil {
		s.incCancel()
		s.incCancel = nil
	}
	e := s.proc.Exit()
	if s.launching {
		s.launching = false
		if s.state == Starting && e.Signal == 0 && e.Code == 0 {
			s.lookFor(true) // the launcher did its job: find what it started
			return
		}
	}
	s.lastExit = &e
	rec := ExitRecord{Gen: s.gen, Pid: s.proc.Pid(), StartedAt: s.startedAt, Exit: e}
	if o, ok := s.proc.(oomReporter); ok && e.Signal == int(syscall.SIGKILL) {
		rec.OOM = o.OOMKilled()
	}
	var ev Event
	switch {
	case s.state == Stopping && s.wanted && !s.readyFailed:
		ev = EvExitStoppedStart
		rec.Decision = "stopped for restart"
		if s.restartDue {
			rec.Decision = "restarted: unhealthy: " + s.probeErr
		}
	case s.state == Stopping && !s.wanted:
		ev = EvExitStopped
		rec.Decision = "stopped"
	default:
		pe := policy.Exit{Code: e.Code, Signal: e.Signal}
		if s.readyFailed && s.cfg.Policy.IsSuccess(pe) {
			// A clean exit on the stop signal does not make a start that
			// never became ready a success: the policy sees the stop.
			pe = policy.Exit{Signal: int(s.cfg.StopSignal)}
		}
		s.decision = policy.Decide(s.cfg.Policy, &s.hist, pe, s.startedAt, now, s.opts.Rand())
		if e.Unknown {
			// Not our child: its status is not ours to read; it ended, and
			// nobody asked it to.
			s.decision.Reason = "exited (status unknown: not respawn's child); " + s.decision.Reason
		}
		if s.readyFailed {
			// Killed because it never became ready: a failed start.
			s.decision.Reason = "not ready: " + s.probeErr + "; " + s.decision.Reason
		}
		rec.Decision = s.decision.Reason
		switch s.decision.Action {
		case policy.Restart:
			ev = EvExitRestart
		case policy.Done:
			ev = EvExitDone
		default:
			ev = EvExitFail
		}
	}
	s.exits = appendExit(s.exits, rec)
	s.collectTail(rec.Gen)
	reason := exitReason(ev, e, s.cfg.Policy)
	counts := make(map[string]uint64, len(s.exitCounts)+1)
	maps.Copy(counts, s.exitCounts)
	counts[reason]++
	s.exitCounts = counts
	xe := api.Event{Type: api.EventExit, Service: s.cfg.Name, Gen: s.gen, Pid: rec.Pid, Reason: rec.Decision, OOM: rec.OOM}
	setExit(&xe, e)
	s.opts.Journal.Record(xe)
	if ev == EvExitRestart || ev == EvExitFail {
		s.opts.Journal.Record(api.Event{Type: api.EventRespawn, Service: s.cfg.Name, Gen: s.gen,
			Reason: s.decision.Reason, DelayMS: s.decision.Delay.Milliseconds(), Attempt: s.hist.Attempt})
	}
	s.fire(ev)
}

// exitReason sorts an exit for the exits counter: "stopped" (we asked),
// "signal" (killed otherwise), "success" or "failure" (by the success codes).
func exitReason(ev Event, e proc.Exit, p policy.Params) string {
	switch {
	case ev == EvExitStopped || ev == EvExitStoppedStart:
		return "stopped"
	case e.Signal != 0:
		return "signal"
	case p.IsSuccess(policy.Exit{Code: e.Code}):
		return "success"
	}
	return "failure"
}

// setExit fills an event's exit code or signal.
func setExit(ev *api.Event, e proc.Exit) {
	if e.Signal != 0 {
		ev.Signal = unix.SignalName(syscall.Signal(e.Signal))
		return
	}
	code := e.Code
	ev.ExitCode = &code
}

// collectTail waits, off the actor, for the run's output to be drained (its
// pipes reach EOF once the tree is gone), then files the run's last lines.
func (s *Service) collectTail(gen uint64) {
	out := s.out
	s.out = nil
	if out == nil {
		return
	}
	go func() {
		timeout := time.NewTimer(tailWait)
		defer timeout.Stop()
		select {
		case <-out.Drained():
		case <-timeout.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), tailWait)
		defer cancel()
		_, _ = s.do(ctx, request{op: opTail, gen: gen, lines: out.Lines()})
	}()
}

// fileTail puts a run's last lines into its exit record.
func (s *Service) fileTail(gen uint64, lines []logs.Line) {
	for i := range s.exits {
		if s.exits[i].Gen == gen {
			exits := slices.Clone(s.exits)
			exits[i].LastLines = lines
			s.exits = exits
			s.publish()
			return
		}
	}
}

func appendExit(list []ExitRecord, r ExitRecord) []ExitRecord {
	// Copy on write: published snapshots share the old slice.
	n := len(list) + 1
	if n > maxExits {
		n = maxExits
	}
	out := make([]ExitRecord, 0, n)
	if len(list) >= maxExits {
		list = list[len(list)-maxExits+1:]
	}
	out = append(out, list...)
	return append(out, r)
}

// fire applies one event through the table and performs its effects. Effects
// may produce follow-up events (a spawn's outcome), which are fired in turn.
func (s *Service) fire(ev Event) {
	for {
		from := s.state
		to, effects, ok := Next(from, ev)
		if !ok {
			s.log.Debug("event ignored", "state", from, "event", ev)
			return
		}
		s.setState(to)
		if ev == EvReadyFailed {
			s.readyFailed = true
		}
		next := s.perform(ev, effects)
		if to == Running && from != Running {
			s.watch()
		}
		s.logTransition(from, to, ev)
		s.publish()
		if next == nil {
			return
		}
		ev = *next
	}
}

func (s *Service) setState(to State) {
	if to != s.state {
		s.state = to
		s.since = time.Now()
	}
}

// perform runs effects in order. It returns the follow-up event, if any.
func (s *Service) perform(ev Event, effects []Effect) *Event {
	var next *Event
	for _, eff := range effects {
		switch eff {
		case EffSpawn:
			next = s.spawn(ev == EvBackoffElapsed || ev == EvCooldownElapsed)
		case EffSignalStop:
			next = s.signalStop()
		case EffKillTree:
			if s.proc != nil {
				if err := s.proc.KillTree(); err != nil && !errors.Is(err, os.ErrProcessDone) {
					s.log.Warn("kill tree", "gen", s.gen, "err", err)
				}
			}
		case EffAwaitTreeGone:
			s.awaitTreeGone()
		case EffArmBackoff:
			s.errText = s.decision.Reason
			next = s.arm(EvBackoffElapsed, s.decision.Delay)
		case EffArmCooldown:
			s.errText = s.decision.Reason
			if s.cfg.Policy.Cooldown > 0 {
				next = s.arm(EvCooldownElapsed, s.decision.Delay)
			}
		case EffCancelTimer:
			s.cancelTimer()
		case EffResetHistory:
			if s.keepHistory {
				s.keepHistory = false
			} else {
				s.hist.Reset()
			}
			s.errText = ""
		}
	}
	if ev == EvExitStopped || ev == EvExitDone {
		s.errText = ""
	}
	return next
}

// spawn starts a new incarnation unless what the service depends on is not
// satisfied: then it is held (EvGateClosed), spending none of its restart budget.
func (s *Service) spawn(isRestart bool) *Event {
	if ok, w := s.opts.Gate(); !ok {
		s.waitingOn = w
		ev := EvGateClosed
		return &ev
	}
	s.waitingOn = Wait{}
	if isRestart || s.restartDue {
		s.restarts++
	}
	s.restartDue = false
	if s.cfg.Probes.Prepare != nil {
		s.cfg.Probes.Prepare()
	}
	if s.cfg.Kind == KindExternal {
		// Adopt it if it runs already; its start command comes only if not.
		s.gen++
		s.startedAt = time.Now()
		s.hist.RecordStart(s.cfg.Policy, s.startedAt)
		s.lookFor(false)
		return nil
	}
	return s.launch()
}

// lookFor asks Find, off the actor, for the current incarnation's process.
func (s *Service) lookFor(afterLaunch bool) {
	gen, find := s.gen, s.cfg.Find
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), findTimeout)
		defer cancel()
		p, err := find(ctx, afterLaunch)
		_, _ = s.do(context.Background(), request{op: opFound, gen: gen, found: p, err: err, after: afterLaunch})
	}()
}

// findTimeout bounds the search for a daemon or an external process.
const findTimeout = 15 * time.Second

// found takes Find's answer: the process is adopted as the incarnation, or,
// for an external service not running yet, its start command is launched.
func (s *Service) found(r request) {
	if r.gen != s.gen || s.state != Starting || s.live {
		return // about an incarnation that is over
	}
	if r.err == nil {
		s.proc, s.live = r.found, true
		s.running.Store(&liveProc{r.found})
		ctx, cancel := context.WithCancel(context.Background())
		s.incCancel = cancel
		if next := s.afterSpawn(ctx); next != nil {
			s.fire(*next)
		}
		s.publish()
		return
	}
	s.errText = r.err.Error()
	if !r.after && len(s.cfg.Spec.Args) > 0 {
		if next := s.launch(); next != nil { // the external's start command
			s.fire(*next)
		}
		s.publish()
		return
	}
	// Nothing to adopt: for an external without a start command that is a
	// failure to start; after a launch, the daemon never showed up, and
	// whatever the launch left behind goes.
	if r.after && s.proc != nil {
		if err := s.proc.KillTree(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			s.log.Warn("kill what the launcher left", "err", err)
		}
	}
	s.fire(EvSpawnFailed)
}

// launch spawns Spec: the service itself, or the launcher that starts it.
func (s *Service) launch() *Event {
	var p Process
	var err error
	if spawner, ok := s.opts.Runner.(OutputSpawner); ok && s.opts.Output != nil {
		p, err = spawner.SpawnOutput(s.cfg.Spec, s.opts.Output)
	} else {
		p, err = s.opts.Runner.Spawn(s.cfg.Spec)
	}
	if err != nil {
		s.proc = nil
		s.errText = err.Error()
		ev := EvSpawnFailed
		return &ev
	}
	if s.cfg.Kind != KindExternal { // an external's launcher belongs to the attempt in progress
		s.gen++
		s.startedAt = p.StartedAt()
		s.hist.RecordStart(s.cfg.Policy, s.startedAt)
	}
	s.proc, s.live = p, true
	s.running.Store(&liveProc{p})
	s.out = s.outputOf(p)
	s.readyFailed, s.probeErr, s.health = false, "", HealthUnknown
	ctx, cancel := context.WithCancel(context.Background())
	s.incCancel = cancel
	if s.cfg.Find != nil {
		s.launching = true
		return nil // starting until the launcher has done its job
	}
	return s.afterSpawn(ctx)
}

// afterSpawn starts the readiness probe of the live process, if any; without
// one the service is running at once.
func (s *Service) afterSpawn(ctx context.Context) *Event {
	if ready := s.cfg.Probes.Ready; ready != nil {
		inc := s.incarnation()
		go func() {
			err := ready(ctx, inc)
			if ctx.Err() != nil {
				return // the incarnation ended first
			}
			ev := EvReady
			if err != nil {
				ev = EvReadyFailed
			}
			_, _ = s.do(ctx, request{op: opProbe, gen: inc.Gen, ev: ev, err: err})
		}()
		return nil // starting until the probe answers
	}
	ev := EvSpawned
	return &ev
}

func (s *Service) incarnation() Incarnation {
	return Incarnation{Gen: s.gen, Pid: s.proc.Pid(), Process: s.proc, Output: s.out}
}

// watch starts the liveness check of the current incarnation, once it runs.
func (s *Service) watch() {
	w := s.cfg.Probes.Watch
	if w == nil || !s.live || s.incCancel == nil {
		return
	}
	inc := s.incarnation()
	ctx, cancel := context.WithCancel(context.Background())
	parent := s.incCancel
	s.incCancel = func() { cancel(); parent() }
	report := func(healthy bool, err error) {
		_, _ = s.do(ctx, request{op: opHealth, gen: inc.Gen, healthy: healthy, err: err})
	}
	unhealthy := func(err error) {
		_, _ = s.do(ctx, request{op: opProbe, gen: inc.Gen, ev: EvUnhealthy, err: err})
	}
	go w(ctx, inc, report, unhealthy)
}

// outputOf returns a run's output: the one its process reports when it is
// captured elsewhere, else its pipes attached to the service's Output here.
func (s *Service) outputOf(p Process) RunOutput {
	if op, ok := p.(outputProcess); ok {
		if out := op.Output(); out != nil {
			return out
		}
	}
	out := newLocalOutput()
	for _, st := range []struct {
		stream logs.Stream
		f      *os.File
	}{{logs.Stdout, p.Stdout()}, {logs.Stderr, p.Stderr()}} {
		if err := out.attach(s.opts.Output, st.stream, st.f); err != nil {
			s.log.Warn("output capture", "stream", st.stream, "err", err)
		}
	}
	return out
}

// signalStop asks the live process to stop. With none (an external service
// still being looked for), the stop is complete at once.
func (s *Service) signalStop() *Event {
	if !s.live {
		ev := EvExitStopped
		if s.wanted {
			ev = EvExitStoppedStart
		}
		return &ev
	}
	if len(s.cfg.StopCommand) > 0 {
		s.runStopCommand()
	} else if err := s.proc.Signal(s.cfg.StopSignal); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.log.Warn("stop signal", "gen", s.gen, "pid", s.proc.Pid(), "err", err)
	}
	s.arm(EvStopTimeout, s.cfg.StopTimeout)
	return nil
}

// runStopCommand runs the stop command, spawned like the service, and lets
// it run: the service's own exit (or the stop timeout) ends the stop.
func (s *Service) runStopCommand() {
	spec := s.cfg.Spec
	spec.Name, spec.Args = s.cfg.Name+".stop", s.cfg.StopCommand
	p, err := s.opts.Runner.Spawn(spec)
	if err != nil {
		s.log.Warn("stop command", "err", err)
		return
	}
	for _, f := range []*os.File{p.Stdout(), p.Stderr()} {
		if f != nil {
			go func() {
				_, _ = io.Copy(io.Discard, f)
				f.Close()
			}()
		}
	}
}

func (s *Service) awaitTreeGone() {
	if s.proc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), treeGoneTimeout)
	defer cancel()
	if err := s.proc.WaitTreeGone(ctx); err != nil {
		s.log.Warn("process tree still alive after kill", "gen", s.gen, "err", err)
	}
}

// arm sets the single timer. A zero delay needs no timer: the event is returned
// to be fired at once, which keeps an immediate respawn free of timer latency.
func (s *Service) arm(ev Event, d time.Duration) *Event {
	s.cancelTimer()
	if d <= 0 {
		return &ev
	}
	s.timer = time.NewTimer(d)
	s.timerEv = ev
	s.timerAt = time.Now().Add(d)
	return nil
}

func (s *Service) cancelTimer() {
	if s.timer != nil {
		// Since Go 1.23 a stopped timer never delivers a stale value, so the
		// next select cannot see this timer's tick.
		s.timer.Stop()
		s.timer, s.timerAt = nil, time.Time{}
	}
}

func (s *Service) logTransition(from, to State, ev Event) {
	attrs := []any{"gen", s.gen, "from", from.String(), "to", to.String(), "event", ev.String()}
	if s.live {
		attrs = append(attrs, "pid", s.proc.Pid())
	}
	switch ev {
	case EvExitRestart, EvExitDone, EvExitFail, EvExitStopped, EvExitStoppedStart:
		if s.lastExit != nil {
			if s.lastExit.Signal != 0 {
				attrs = append(attrs, "signal", unix.SignalName(syscall.Signal(s.lastExit.Signal)))
			} else {
				attrs = append(attrs, "exit_code", s.lastExit.Code)
			}
		}
	}
	if !s.timerAt.IsZero() {
		key := "next_retry"
		if s.timerEv == EvStopTimeout {
			key = "kill_at"
		}
		attrs = append(attrs, key, s.timerAt.Format(time.RFC3339Nano))
	}
	if s.errText != "" && (to == Failed || to == Backoff) {
		attrs = append(attrs, "reason", s.errText)
	}
	se := api.Event{Type: api.EventState, Service: s.cfg.Name, Gen: s.gen, From: from.String(), To: to.String(), Reason: ev.String()}
	if s.live {
		se.Pid = s.proc.Pid()
	}
	if s.errText != "" && (to == Failed || to == Backoff) {
		se.Reason = s.errText
	}
	if (ev == EvReadyFailed || ev == EvUnhealthy) && s.probeErr != "" {
		se.Reason = ev.String() + ": " + s.probeErr
	}
	s.opts.Journal.Record(se)
	level := slog.LevelInfo
	if to == Failed {
		level = slog.LevelError
	} else if to == Backoff {
		level = slog.LevelWarn
	}
	s.log.Log(context.Background(), level, "state", attrs...)
}

func (s *Service) publish() {
	s.seq++
	snap := Snapshot{
		Name:        s.cfg.Name,
		Kind:        s.cfg.Kind,
		State:       s.state,
		Since:       s.since,
		Wanted:      s.wanted,
		Seq:         s.seq,
		Gen:         s.gen,
		StartedAt:   s.startedAt,
		Restarts:    s.restarts,
		LastExit:    s.lastExit,
		Exits:       s.exits,
		Error:       s.errText,
		Attempt:     s.hist.Attempt,
		ExitCounts:  s.exitCounts,
		Containment: s.opts.Containment,
	}
	if s.live {
		snap.Health = s.health
	}
	if s.state == Waiting {
		snap.WaitingOn, snap.Blocked = s.waitingOn.On, s.waitingOn.Blocked
	}
	if s.cfg.Policy.Window > 0 {
		cut := time.Now().Add(-s.cfg.Policy.Window)
		for _, t := range s.hist.Starts {
			if t.After(cut) {
				snap.StartsInWindow++
			}
		}
	}
	if s.live {
		snap.Pid = s.proc.Pid()
	}
	if s.timerEv != EvStopTimeout {
		snap.NextRetryAt = s.timerAt
	}
	p := &published{snap: snap, changed: make(chan struct{})}
	old := s.cur.Swap(p)
	if old != nil {
		close(old.changed)
		s.opts.Notify()
	}
	s.save()
}
