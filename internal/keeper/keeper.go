//go:build linux || darwin || freebsd

package keeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/proc"
	"github.com/respawn-sh/respawn/internal/proc/cleanup"
	"github.com/respawn-sh/respawn/internal/statedir"
)

// Names in the state dir.
const (
	SocketName   = "keeper.sock"     // the private keeper–core socket
	CrashName    = "core-crash.log"  // the core's crash output (debug.SetCrashOutput)
	RecordsName  = "keeper.pids"     // pids of every process started, for the next start's cleanup
	HandoverName = "keeper.handover" // the table handed to the next image on upgrade
	LogsName     = "logs"            // the services' logs: <state dir>/logs/<service>.log
)

// coreName is the name the core runs under in the process manager; the
// leading dot keeps it apart from every service name the config allows.
const coreName = ".core"

// DefaultCoreTimeout is how long a core may leave a ping unanswered before it
// is declared hung and restarted.
const DefaultCoreTimeout = 30 * time.Second

// Options configure a keeper.
type Options struct {
	Logger *slog.Logger
	// StateDir holds the keeper's socket, records and handover file (mode 0700).
	StateDir string
	// Dir is StateDir opened and checked (statedir.Open); nil: the keeper
	// opens it. Every file the keeper touches there is opened through it.
	Dir *statedir.Dir
	// InstanceID names the cgroup subtree (see proc.Options).
	InstanceID string
	// NoCgroup forces process-group containment.
	NoCgroup bool
	// RequireCgroup makes Run fail when cgroup containment cannot be used.
	RequireCgroup bool
	// Binary is the absolute path of the running program: cores are started
	// from it, and an upgrade without --binary re-execs it.
	Binary string
	// CoreArgs are the core's arguments after the binary.
	CoreArgs []string
	// CoreEnv is the core's environment.
	CoreEnv []string
	// CoreTimeout: a core that answers no ping for this long is hung. Zero: DefaultCoreTimeout.
	CoreTimeout time.Duration
	// Ready is called once: with nil when the first core has started the
	// services, else with why the start failed.
	Ready func(error)
	// Notify sends an sd_notify state ("READY=1", "STATUS=...", "WATCHDOG=1",
	// "STOPPING=1"); nil sends nothing.
	Notify func(string) error
	// WatchdogEvery > 0 sends WATCHDOG=1 at this interval, only while the core answers.
	WatchdogEvery time.Duration
	// Lock is the state-dir lock file; it stays open (and locked) across upgrades.
	Lock *os.File
	// ControlSocket is the core's control socket (respawn.sock): while no
	// core serves it, the keeper answers there that the core is restarting.
	// Empty: nobody answers then.
	ControlSocket string
	// LogLevel and LogFormat describe Logger, so an upgraded image logs alike.
	LogLevel, LogFormat string
	// LogRotation is how the supervisor's log file rotates, so an upgraded
	// image rotates alike.
	LogRotation logs.Options
	// Log is the supervisor's log file, when it is one (`up -d`): the core's
	// output is copied there, and its drops are reported. nil: stderr.
	Log *logs.Writer
}

// entry is one process of the table.
type entry struct {
	seq       uint64 // spawn order, so the newest run of a name is known
	name      string
	pid       int
	startedAt time.Time
	// p is nil for a process that ended before an upgrade handed it over.
	p       *proc.Process
	sink    string     // the log it writes to; "" when its pipes went to the core
	tail    *logs.Tail // its run's last lines (sink only)
	drained []<-chan struct{}
	// gone is closed when the entry leaves the table.
	gone      chan struct{}
	exited    bool
	exit      proc.Exit
	oom       bool
	announced bool // the connected core knows this pid
}

// Keeper is the long-lived parent of the services.
type Keeper struct {
	opts    Options
	log     *slog.Logger
	mgr     *proc.Manager
	capture *logs.Capture
	records *records
	logsDir *statedir.Dir // <state dir>/logs, where every service's log is
	started time.Time
	// out receives the core's output; outDropped counts its lines that
	// could not be written there (Options.Log counts its own).
	out         io.Writer
	outDropped  atomic.Uint64
	outDropping atomic.Bool // the last write to out failed
	// coreErr is the last error line the current core printed, if any.
	coreErr atomic.Pointer[string]
	// dropWake asks reportDrops to tell the core which logs drop lines.
	dropWake chan struct{}

	// mu guards the process table: the processes and logs the keeper holds,
	// the services' saved states, and the connected core those are
	// announced to (an exit goes to the core that knows the pid, once).
	mu    sync.Mutex // guards the process table below
	procs map[int]*entry
	seq   uint64
	sinks map[string]*logs.Sink
	// sinkOpts are the options each sink was opened with (for a handover).
	sinkOpts map[string]logs.Options
	saved    map[string]json.RawMessage
	baseEnv  []string
	conn     *coreConn // the connected core, nil when none
	// listeners are the services' listening sockets, by listenKey.
	listeners map[string]*heldListener

	// The core's lifecycle belongs to the main loop, its only writer; other
	// goroutines read what it publishes. corePid routes the reaper's report
	// of the core's exit to the loop.
	corePid atomic.Int64
	facts   atomic.Pointer[coreFacts]

	// ownLog is the keeper's own log file, reopened on SIGUSR1; nil when its stderr is no file.
	ownLog *ownLog

	events chan any // to the main loop
}

// coreFacts are what the main loop publishes of the core's lifecycle, for
// a connecting core's hello and for a handover. Never changed once
// published: the loop publishes a new one.
type coreFacts struct {
	// restarts counts cores started after the first.
	restarts int
	previous *CoreEnd
	upgrade  *UpgradeResult
	stopping bool
}

// lifecycle returns what the loop last published.
func (k *Keeper) lifecycle() coreFacts { return *k.facts.Load() }

// loop events
type (
	evCoreExit  struct{ p *proc.Process }
	evConnected struct{ c *coreConn }
	evConnGone  struct{ c *coreConn }
	evReady     struct {
		c      *coreConn
		status string
	}
	evPong struct{ c *coreConn }
	evBye  struct {
		c    *coreConn
		code int
	}
	// evStopping: the core began an ordered stop; one that dies during it
	// is followed by one that finishes it.
	evStopping struct{}
	evUpgrade  struct {
		c      *coreConn
		id     uint64
		binary string
	}
)

// Run runs a keeper until its services are stopped, and returns the exit
// code for the process. Services are the keeper's children: when it dies, they
// die (parent-death signal), and the next Run kills whatever they left.
func Run(opts Options) (int, error) {
	k, err := newKeeper(opts)
	if err != nil {
		return 1, err
	}
	if err := k.cleanLeftovers(); err != nil {
		return 1, err
	}
	mgr, err := proc.NewManager(proc.Options{Logger: k.log, InstanceID: opts.InstanceID, NoCgroup: opts.NoCgroup,
		RequireCgroup: opts.RequireCgroup, OnExit: k.onExit, OnTrack: k.onTrack})
	if err != nil {
		return 1, fmt.Errorf("process manager: %w", err)
	}
	k.mgr = mgr
	if k.capture, err = logs.NewCapture(k.log); err != nil {
		return 1, fmt.Errorf("output capture: %w", err)
	}
	return k.run(nil)
}

func newKeeper(opts Options) (*Keeper, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CoreTimeout <= 0 {
		opts.CoreTimeout = DefaultCoreTimeout
	}
	if opts.Ready == nil {
		opts.Ready = func(error) {}
	}
	if opts.Notify == nil {
		opts.Notify = func(string) error { return nil }
	}
	if opts.Dir == nil {
		d, err := statedir.Open(opts.StateDir)
		if err != nil {
			return nil, err
		}
		opts.Dir = d
	}
	logsDir, err := opts.Dir.Sub(LogsName)
	if err != nil {
		return nil, fmt.Errorf("logs dir: %w", err)
	}
	k := &Keeper{
		opts:      opts,
		log:       opts.Logger,
		started:   time.Now(),
		procs:     make(map[int]*entry),
		sinks:     make(map[string]*logs.Sink),
		sinkOpts:  make(map[string]logs.Options),
		saved:     make(map[string]json.RawMessage),
		listeners: make(map[string]*heldListener),
		events:    make(chan any, 16),
		logsDir:   logsDir,
		out:       opts.output(),
		dropWake:  make(chan struct{}, 1),
	}
	if opts.Log != nil {
		opts.Log.OnDrops(func(bool) { k.wakeDrops() })
	} else {
		// Without a log writer of its own (a foreground `up 2>>FILE`), the
		// keeper's log is whatever file its stderr holds.
		k.ownLog = findOwnLog()
	}
	k.facts.Store(&coreFacts{})
	k.records = openRecords(opts.Dir)
	return k, nil
}

// cleanLeftovers kills what an earlier keeper of this state dir left running
// (it was killed before it could stop its services).
func (k *Keeper) cleanLeftovers() error {
	recs, err := k.records.load()
	if errors.Is(err, statedir.ErrUnsafe) {
		return fmt.Errorf("process records: %w", err)
	}
	if err != nil {
		k.log.Warn("read process records", "err", err)
	}
	if len(recs) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n, err := cleanup.KillRecorded(ctx, recs)
		if n > 0 {
			k.log.Warn("killed processes an earlier instance left running", "count", n)
		}
		if err != nil {
			return fmt.Errorf("kill leftovers of an earlier instance: %w", err)
		}
	}
	return k.records.reset()
}

// emit hands an event to the main loop without blocking the caller for long.
func (k *Keeper) emit(ev any) { k.events <- ev }

// run is the main loop: it owns the core's lifecycle, signals and upgrades.
func (k *Keeper) run(resumed *handover) (int, error) {
	sockPath := k.opts.Dir.Join(SocketName)
	ln, err := listen(k.opts.Dir, SocketName)
	if err != nil {
		return 1, err
	}
	go k.accept(ln)
	go k.reportDrops()

	// Every signal a person or a tool may send is handled (see docs/cli.md):
	// none of them may kill the keeper and with it every service. SIGPIPE is
	// caught, not ignored: the runtime would otherwise end the keeper on a
	// write to a closed stdout or stderr (`up | less`, then q), and an
	// ignored signal stays ignored in every service exec'd.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM, syscall.SIGPIPE)
	defer signal.Stop(sigs)

	l := &loop{k: k, ln: ln, sockPath: sockPath, firstStart: resumed == nil}
	facts := k.lifecycle() // what a handover brought
	l.restarts, l.previous, l.upgrade, l.stopping = facts.restarts, facts.previous, facts.upgrade, facts.stopping
	if resumed != nil {
		l.upgradeFrom = resumed.UpgradeFrom
		l.rollbackFd = resumed.OldBinaryFd
		l.readyOnce = resumed.ReadyReported
		if l.upgradeFrom != "" {
			l.upgradeTimer = time.AfterFunc(upgradeReady, func() { k.emit(evUpgradeCheck{}) })
		}
	}
	if err := l.startCore(); err != nil {
		l.fail(err)
		return l.finish(1)
	}
	l.phase = phaseStarting
	for {
		select {
		case sig := <-sigs:
			if code, done := l.queued(); done {
				return l.finish(code)
			}
			if code, done := l.signal(sig.(syscall.Signal)); done {
				return l.finish(code)
			}
		case ev := <-k.events:
			if code, done := l.handle(ev); done {
				return l.finish(code)
			}
		case <-l.pingC():
			if code, done := l.tick(); done {
				return l.finish(code)
			}
		case <-l.restartC():
			l.restartTimer = nil
			if code, done := l.step(ceRestartDue, nil); done {
				return l.finish(code)
			}
		}
	}
}

// onExit is called by the reaper for every process of the manager.
func (k *Keeper) onExit(p *proc.Process) {
	if int64(p.Pid()) == k.corePid.Load() {
		k.emit(evCoreExit{p})
		return
	}
	k.mu.Lock()
	e := k.procs[p.Pid()]
	if e != nil && e.p == p {
		k.exitedLocked(e)
	}
	k.mu.Unlock()
	k.records.remove(p.Pid())
}

// onTrack records the descendants the process manager tracks outside their
// service's process group (process-group containment), so that the next
// start kills them if this keeper dies before they end.
func (k *Keeper) onTrack(r cleanup.Record, live bool) {
	if live {
		k.records.addStart(r.Pid, r.Pgid, r.Start)
	} else {
		k.records.remove(r.Pid)
	}
}

// killOrphans kills what the stopped services left behind: processes of
// theirs that left their process group and outlived them (process-group
// containment; in cgroup mode the cgroups are empty by now).
func (k *Keeper) killOrphans() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := k.mgr.KillOrphans(ctx); err != nil {
		k.log.Warn("kill what services left behind", "err", err)
	}
}

// exitedLocked records an entry's exit and tells the core; k.mu is held.
func (k *Keeper) exitedLocked(e *entry) {
	if e.exited {
		return
	}
	e.exited = true
	e.exit = e.p.Exit()
	if e.exit.Signal == int(syscall.SIGKILL) {
		e.oom = e.p.OOMKilled()
	}
	if k.conn != nil && e.announced {
		ex := e.exit
		// Said with the exit, the core need not ask to kill an empty tree:
		// one round trip less a restart.
		k.conn.out.push(&message{Op: opExit, Pid: e.pid, Exit: &ex, OOM: e.oom, Gone: e.p.TreeGone()})
	}
	if e.sink != "" {
		// e.drained is read here, under k.mu: a resumed image resets it.
		go k.sendTail(e, e.drained)
	}
}

// tailWait bounds the wait for a run's output to drain after it exited.
const tailWait = 2 * time.Second

// sendTail waits, bounded, for the run's output to be written, then gives the
// core the run's last lines.
func (k *Keeper) sendTail(e *entry, drained []<-chan struct{}) {
	timeout := time.NewTimer(tailWait)
	defer timeout.Stop()
	for _, d := range drained {
		select {
		case <-d:
		case <-timeout.C:
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conn != nil && e.announced {
		k.conn.out.push(&message{Op: opTail, Pid: e.pid, Lines: e.tail.Lines()})
	}
}

// addEntry puts a started process in the table; k.mu is held.
func (k *Keeper) addEntryLocked(name string, p *proc.Process, sink string) *entry {
	// Earlier runs of the name are processed by now: the core only starts a
	// run once it has handled the previous one's exit.
	for pid, old := range k.procs {
		if old.name == name && old.exited {
			k.dropLocked(pid, old)
		}
	}
	k.seq++
	e := &entry{seq: k.seq, name: name, pid: p.Pid(), startedAt: p.StartedAt(), p: p, sink: sink, gone: make(chan struct{})}
	k.procs[p.Pid()] = e
	return e
}

func (k *Keeper) dropLocked(pid int, e *entry) {
	delete(k.procs, pid)
	select {
	case <-e.gone:
	default:
		close(e.gone)
	}
}

// finishSpawnLocked reports an exit that happened before the entry existed; k.mu is held.
func (k *Keeper) finishSpawnLocked(e *entry) {
	select {
	case <-e.p.Done():
		k.exitedLocked(e)
	default:
	}
}

// killAll kills every process tree of the table (a last resort when no core
// can stop the services in order).
func (k *Keeper) killAll() {
	k.mu.Lock()
	procs := make([]*proc.Process, 0, len(k.procs))
	for _, e := range k.procs {
		if e.p != nil {
			procs = append(procs, e.p)
		}
	}
	k.mu.Unlock()
	for _, p := range procs {
		if err := p.KillTree(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			k.log.Warn("kill", "pid", p.Pid(), "err", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, p := range procs {
		_ = p.WaitTreeGone(ctx)
	}
}
