package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/policy"
	"github.com/respawn-sh/respawn/internal/proc"
)

// Runner starts processes: a keeper's client, which spawns them in the
// keeper, the parent of every service.
type Runner interface {
	// SpawnOutput starts a service's run with its output captured into out
	// (nil: not captured); the process it returns reports the run's output
	// through an Output() RunOutput method.
	SpawnOutput(spec proc.Spec, out Output) (Process, error)
	// Spawn starts a helper (a stop command) whose pipes the caller reads.
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

// tailWait bounds the wait for a run's output to drain after it exited.
const tailWait = 2 * time.Second

// Journal records what happens to the service.
type Journal interface {
	Record(e api.Event)
}

// holder is a Journal that can write an event before its followers hear of
// it (journal.Journal, alerts.Notifier): a transition's event is written,
// then the new state published, then the followers told, so that a follower
// that asks for the status on the event finds that state, and whoever sees
// the state finds the event in the journal (see fire).
type holder interface {
	Hold(e api.Event) (release func())
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
	// StartFirst: a restart of a running service starts the next run and
	// waits until it is ready before it stops the running one.
	StartFirst bool
	Probes     Probes
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

// Service is one service's actor. All its mutable state is owned by the
// actor's goroutine (see loop); other goroutines talk to it through commands
// and snapshots.
type Service struct {
	// name never changes (a reload keeps a service's name), so any goroutine
	// may read it; cfg, which a reload replaces, is the actor's alone.
	name  string
	cfg   Config
	opts  Options
	inbox chan request
	cur   atomic.Pointer[published]
	ended chan struct{} // closed when the actor has ended: commands then fail at once
	// running is the live incarnation, for readers outside the actor (metrics).
	running atomic.Pointer[liveProc]
	// kick (buffer of one) asks a running loop to look again: a process it
	// waits for ended, End was called, or a sender gave up.
	kick chan struct{}

	// mu guards active, pending and quitting, the hand-over between a loop
	// that ends and whoever starts the next (see park); a leaf, held for a
	// few instructions.
	mu sync.Mutex
	// active: a goroutine runs loop, or is about to, or no loop may start
	// (before Go, and once the actor ended).
	active bool
	// pending counts senders between announcing a request and its receipt
	// by the loop, or their giving up.
	pending int
	// quitting: End was called; the loop ends at its next look.
	quitting bool

	// Fields below are owned by the actor's goroutine.
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
	// nxt is a start-first restart's replacement, nil when none runs.
	nxt *nextRun
	// slot: the incarnation runs under the alternate process name (see
	// procName); genTop is the highest generation given out.
	slot   bool
	genTop uint64
	// retired are the incarnations last replaced or dropped under each
	// process name (see slotIndex), stopping away from the actor.
	retired [2]Process
	// watched is the process whose end wakes a parked actor (see park).
	watched Process
}

// New returns a service in state stopped. Go starts its actor.
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
		name: cfg.Name,
		cfg:  cfg,
		opts: opts,
		// Unbuffered: every sender waits for its reply anyway, and a
		// buffer of requests (120 bytes each) would sit in every idle
		// service.
		inbox: make(chan request),
		ended: make(chan struct{}),
		kick:  make(chan struct{}, 1),
		since: time.Now(),
		// No loop starts before Go.
		active: true,
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
	s.announce()
	select {
	case s.inbox <- r:
		// The loop counted it received.
	case <-s.ended:
		s.withdraw()
		return 0, ErrNotRunning
	case <-ctx.Done():
		s.withdraw()
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

// Live returns the live incarnation's process, for measuring many at once
// (see Usage for one); ok is false when none runs.
func (s *Service) Live() (p Process, ok bool) {
	lp := s.running.Load()
	if lp == nil {
		return nil, false
	}
	return lp.p, true
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

// Go starts the actor; End ends it. Go is called once.
//
// The actor has a goroutine only while it has something to do: one with
// nothing to wait for but a request, its process's end or End lets it go
// (park), and whichever of those comes first starts the next. A thousand
// services at rest then hold no stacks, and the collector has none of theirs
// to scan.
func (s *Service) Go() { go s.loop() }

// End ends the actor, leaving any process as it is (the caller stops the
// service first when it wants it down); Ended is closed once it has ended.
func (s *Service) End() {
	s.mu.Lock()
	if s.quitting {
		s.mu.Unlock()
		return
	}
	s.quitting = true
	s.mu.Unlock()
	s.wake()
}

// Ended is closed once the actor has ended (End was called).
func (s *Service) Ended() <-chan struct{} { return s.ended }

// loop serves events until the actor may park, or ends.
func (s *Service) loop() {
	for {
		if s.canPark() {
			parked, again := s.park()
			if parked {
				return
			}
			if again {
				continue
			}
		}
		if !s.step() {
			return
		}
	}
}

// exitNotifier is a Process that calls a function once it has ended
// (keeper.Process); only such a process lets its actor park while it runs.
type exitNotifier interface {
	// OnDone calls f once Done is closed (at once if it is); f must not
	// block. A later call replaces an f not yet called.
	OnDone(f func())
}

// canPark reports whether nothing but a request, the live process's end or
// End can move the actor; it asks the live process to wake it then.
func (s *Service) canPark() bool {
	if s.timer != nil || s.nxt != nil {
		return false
	}
	if !s.live {
		return true
	}
	if s.watched != s.proc {
		n, ok := s.proc.(exitNotifier)
		if !ok {
			return false
		}
		s.watched = s.proc
		n.OnDone(s.wake)
	}
	return true
}

// park ends the loop's goroutine when no sender is on its way and nothing it
// waits for has happened. Whoever then announces a request, or wakes the
// actor, finds it inactive under mu and starts the next loop; what happened
// before park took mu, it sees here. again: only a kick was there, look anew.
func (s *Service) park() (parked, again bool) {
	var exitC <-chan struct{}
	if s.live {
		exitC = s.proc.Done()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending > 0 || s.quitting {
		return false, false // the request comes, or a kick when its sender gives up; or the end
	}
	select {
	case <-exitC:
		return false, false
	case <-s.kick:
		return false, true
	default:
	}
	s.active = false
	return true, false
}

// wake starts a loop when none runs, else kicks the running one.
func (s *Service) wake() {
	s.mu.Lock()
	if s.active {
		select {
		case s.kick <- struct{}{}:
		default: // a kick is already waiting
		}
		s.mu.Unlock()
		return
	}
	s.active = true
	s.mu.Unlock()
	go s.loop()
}

// announce counts a sender on its way to the inbox, starting a loop to
// receive it when none runs.
func (s *Service) announce() {
	s.mu.Lock()
	s.pending++
	start := !s.active
	s.active = true
	s.mu.Unlock()
	if start {
		go s.loop()
	}
}

// withdraw uncounts a sender that gave up, and kicks the loop that may be
// waiting for it so that it can park.
func (s *Service) withdraw() {
	s.mu.Lock()
	s.pending--
	if s.active {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()
}

// received uncounts a sender whose request the loop took.
func (s *Service) received() {
	s.mu.Lock()
	s.pending--
	s.mu.Unlock()
}

// step waits for one event and serves it. It returns false once the actor
// has ended.
func (s *Service) step() bool {
	var exitC <-chan struct{}
	if s.live {
		exitC = s.proc.Done()
	}
	var timerC <-chan time.Time
	if s.timer != nil {
		timerC = s.timer.C
	}
	var nextC <-chan struct{}
	if s.nxt != nil && s.nxt.live {
		nextC = s.nxt.proc.Done()
	}
	if s.ending() {
		s.end()
		return false
	}
	select {
	case r := <-s.inbox:
		s.received()
		s.serve(r)
	case <-exitC:
		s.exited()
	case <-nextC:
		s.nextExited()
	case <-timerC:
		ev := s.timerEv
		s.timer, s.timerAt = nil, time.Time{}
		s.fire(ev)
	case <-s.kick:
	}
	return true
}

// ending reports whether End was called. End sets quitting, then kicks the
// loop or starts one, so a loop that saw it unset finds the kick in step's
// select and looks again.
func (s *Service) ending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.quitting
}

// end stops what the actor started and marks it ended. No loop starts after
// it: active stays set.
func (s *Service) end() {
	s.cancelTimer()
	if s.incCancel != nil {
		s.incCancel() // probes end with the actor
	}
	if s.nxt != nil {
		s.nxt.cancel()
	}
	close(s.ended)
}

// serve answers one request.
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
			// A run in progress or pending is replaced (the table wants it
			// up); a service at rest stays as it is.
			s.fire(s.replaceEvent(EvReconfigured))
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
		if s.nextProbe(r) {
			break
		}
		if r.gen != s.gen || !s.live {
			return nil // about an incarnation that is gone
		}
		if r.err != nil {
			s.probeErr = r.err.Error()
		}
		ev := r.ev
		if ev == EvUnhealthy {
			s.health, s.restartDue = Unhealthy, true
			ev = s.replaceEvent(ev)
		}
		s.fire(ev)
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
		s.fire(EvStart)
	case opStop:
		s.fire(EvStop)
	case opRestart:
		s.fire(s.replaceEvent(EvRestart))
	}
	// A command that changed nothing still publishes, so its waiter sees a Seq.
	s.publish()
	return nil
}

// fire applies one event through the table and performs its effects. Effects
// may produce follow-up events (a spawn's outcome), which are fired in turn.
func (s *Service) fire(ev Event) {
	for {
		from := s.state
		to, effects, ok := Next(Status{State: from, Wanted: s.wanted, Next: s.nxt != nil}, ev)
		if !ok {
			s.lg().Debug("event ignored", "state", from, "event", ev)
			return
		}
		s.setWanted(to.Wanted)
		s.setState(to.State)
		next := s.perform(ev, effects)
		if to.State == from && ev.isCommand() {
			// A command during a run or a stop changes only what follows
			// (wanted up or down): no transition to journal. The command
			// publishes its outcome itself.
			s.lg().Debug("command noted", "state", from, "event", ev, "wanted", to.Wanted)
			return
		}
		release := s.logTransition(from, to.State, ev)
		s.publish()
		release()
		if next == nil {
			return
		}
		ev = *next
	}
}

// setWanted applies the table's verdict on whether the service is wanted up.
// Wanted down also ends the grace a restore gave the restart history: the
// next start is a person's, and starts afresh.
func (s *Service) setWanted(w bool) {
	s.wanted = w
	if !w {
		s.keepHistory = false
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
					s.lg().Warn("kill tree", "gen", s.gen, "err", err)
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
		case EffMarkReadyFailed:
			s.readyFailed = true
		case EffWatch:
			s.watch()
		case EffClearError:
			s.errText = ""
		case EffForgetNotReady:
			s.readyFailed = false
		case EffSpawnNext:
			next = s.spawnNext()
		case EffPromote:
			s.restartDue = false
			s.promote()
		case EffDropNext:
			s.dropNext()
		}
	}
	return next
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
