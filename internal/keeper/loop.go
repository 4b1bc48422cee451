//go:build linux || darwin || freebsd

package keeper

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/codepages"
	"github.com/respawn-sh/respawn/internal/gcpace"
	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/proc"
	"github.com/respawn-sh/respawn/internal/statedir"
	"golang.org/x/sys/unix"
)

// loop is the state of the keeper's main loop. Only the loop goroutine uses it.
type loop struct {
	k        *Keeper
	ln       *listener
	sockPath string

	firstStart bool // this keeper's first core, not one after an upgrade
	readyOnce  bool // Options.Ready was called

	core *proc.Process
	// phase is where the current core is in its life (see coreNext).
	phase     corePhase
	conn      *coreConn
	connReady bool
	crashFrom int64  // where the current core's output begins in the crash log
	endReason string // why the keeper ended the current core, if it did

	lastPong     time.Time
	lastWatchdog time.Time
	ticker       *time.Ticker
	restartTimer *time.Timer
	killTimer    *time.Timer

	failsBeforeReady int
	crashes          []time.Time
	stopCrashes      int
	byeCode          *int

	// upgradeTo is the binary to exec once the core has quit.
	upgradeTo string
	// upgradeFrom is set in an upgraded image until its first core is ready:
	// the binary to roll back to, through rollbackFd.
	upgradeFrom  string
	rollbackFd   int
	upgradeTimer *time.Timer

	// The lifecycle facts the loop owns and publishes (see coreFacts).
	restarts int
	previous *CoreEnd
	upgrade  *UpgradeResult
	stopping bool

	// fb answers the control socket while no core serves it; nil when a core does.
	fb *fallback
	// nextStart is when restartTimer fires.
	nextStart time.Time

	// coreOutput counts the copies of cores' output into the keeper's
	// stderr that have not reached their end.
	coreOutput sync.WaitGroup
}

// outputDrain bounds the wait for an ended core's output: a process the
// core left behind may hold its pipe open.
const outputDrain = 5 * time.Second

// waitCoreOutput returns once every core's output has been passed on (a
// core's last lines, written as it ends, are still in the pipe when it has
// exited), or after outputDrain.
func (l *loop) waitCoreOutput() {
	done := make(chan struct{})
	go func() {
		l.coreOutput.Wait()
		close(done)
	}()
	t := time.NewTimer(outputDrain)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		l.k.log.Warn("the core's output did not end in time; its last lines may be missing", "waited", outputDrain)
	}
}

func (l *loop) pingC() <-chan time.Time {
	if l.ticker == nil {
		return nil
	}
	return l.ticker.C
}

func (l *loop) restartC() <-chan time.Time {
	if l.restartTimer == nil {
		return nil
	}
	return l.restartTimer.C
}

// startCore starts a core process; it connects back through the socket.
func (l *loop) startCore() error {
	k := l.k
	k.coreErr.Store(nil)
	dir, err := os.Getwd()
	if err != nil {
		dir = "/"
	}
	env := append(append([]string(nil), k.opts.CoreEnv...), EnvSocket+"="+l.sockPath, EnvStateDir+"="+k.opts.StateDir)
	l.crashFrom = prepareCrashLog(k.opts.Dir)
	// SIGTERM, not SIGKILL, when the keeper dies: the core then kills what
	// the services left (see KillOrphans).
	p, err := k.mgr.Spawn(proc.Spec{Name: coreName, Args: append([]string{k.opts.Binary}, k.opts.CoreArgs...), Env: env, Dir: dir,
		DeathSignal: syscall.SIGTERM})
	if err != nil {
		return fmt.Errorf("start core: %w", err)
	}
	k.records.add(p.Pid(), p.Pid())
	// The core logs to its stderr; its lines join the keeper's.
	for _, f := range []*os.File{p.Stdout(), p.Stderr()} {
		l.coreOutput.Add(1)
		go func() {
			defer l.coreOutput.Done()
			k.copyCoreOutput(f)
		}()
	}
	k.corePid.Store(int64(p.Pid()))
	select {
	case <-p.Done(): // exited before corePid was set: onExit may not have seen it as the core
		go k.emit(evCoreExit{p}) // a second report of the same exit is ignored
	default:
	}
	l.core, l.connReady, l.endReason = p, false, ""
	l.updateFallback()
	k.log.Info("core started", "pid", p.Pid(), "restarts", l.restarts)
	// Pings only start once it is connected: a core stuck before that is
	// caught here.
	time.AfterFunc(k.opts.CoreTimeout, func() { k.emit(evStartDue{p}) })
	return nil
}

// queued handles the events already waiting, before a signal taken with
// them: they happened first. A core's ready notice sent just before a SIGHUP
// must make that SIGHUP a reload, not "no core to reload right now" — the
// loop's select would otherwise pick either at random.
func (l *loop) queued() (code int, done bool) {
	for n := len(l.k.events); n > 0; n-- {
		if code, done := l.handle(<-l.k.events); done {
			return code, true
		}
	}
	return 0, false
}

// handle processes one event; done reports the keeper should exit with code.
// Events of an earlier core or connection are dropped here; the rest go
// through coreNext.
func (l *loop) handle(ev any) (code int, done bool) {
	switch ev := ev.(type) {
	case evConnected:
		if l.core == nil || ev.c.pid != l.core.Pid() {
			l.k.log.Warn("refused a core connection", "pid", ev.c.pid)
			ev.c.shut()
			return 0, false
		}
		return l.step(ceConnected, ev)
	case evConnGone:
		return l.fromConn(ev.c, ceConnGone, ev)
	case evReady:
		return l.fromConn(ev.c, ceReady, ev)
	case evPong:
		return l.fromConn(ev.c, cePong, ev)
	case evBye:
		return l.fromConn(ev.c, ceBye, ev)
	case evUpgrade:
		return l.fromConn(ev.c, ceUpgrade, ev)
	case evUpgradeChecked:
		if ev.err != nil {
			ev.c.reply(ev.id, ev.err)
			return 0, false
		}
		if ev.c != l.conn {
			ev.c.reply(ev.id, errors.New("the core changed during the upgrade check; try again"))
			return 0, false
		}
		return l.step(ceUpgradeChecked, ev)
	case evStopping:
		return l.step(ceStopping, ev)
	case evStartDue:
		return l.fromCore(ev.p, ceStartDue, ev)
	case evConnLost:
		return l.fromCore(ev.p, ceConnLost, ev)
	case evCoreExit:
		return l.fromCore(ev.p, ceExit, ev)
	case evCoreExitDue:
		return l.fromCore(ev.p, ceExitDue, ev)
	case evKillCore:
		return l.fromCore(ev.p, ceKillDue, ev)
	case evUpgradeCheck:
		return l.step(ceUpgradeDue, ev)
	}
	return 0, false
}

// fromConn steps with e when c is the current core's connection.
func (l *loop) fromConn(c *coreConn, e coreEvent, raw any) (int, bool) {
	if c == nil || c != l.conn {
		return 0, false
	}
	return l.step(e, raw)
}

// fromCore steps with e when p is the current core.
func (l *loop) fromCore(p *proc.Process, e coreEvent, raw any) (int, bool) {
	if p == nil || p != l.core {
		return 0, false
	}
	return l.step(e, raw)
}

// state is what coreNext decides on, from what the loop holds.
func (l *loop) state() coreState {
	return coreState{phase: l.phase, conn: l.conn != nil, stopping: l.stopping, probation: l.upgradeFrom != ""}
}

// step asks coreNext what follows e and does it. raw is the event as it
// came, for what the effects need of it (a connection, a request).
func (l *loop) step(e coreEvent, raw any) (int, bool) {
	from := l.state()
	to, effects, ok := coreNext(from, e)
	if !ok {
		return 0, false
	}
	l.phase = to.phase
	if to.stopping != l.stopping {
		l.stopping = to.stopping
		l.publish()
	}
	for _, f := range effects {
		if code, done := l.do(f, e, raw); done {
			return code, true
		}
	}
	return 0, false
}

// do carries out one effect of a step.
func (l *loop) do(f coreEffect, e coreEvent, raw any) (int, bool) {
	k := l.k
	switch f {
	case efServe:
		c := raw.(evConnected).c
		l.conn = c
		l.lastPong = time.Now()
		go c.serve()
		l.startTicker()
	case efRefuseConn:
		c := raw.(evConnected).c
		k.log.Warn("refused a core connection", "pid", c.pid)
		c.shut()
	case efMarkReady:
		l.connReady = true
		l.failsBeforeReady = 0
		// The core serves its control socket now.
		l.closeFallback(false)
		status := raw.(evReady).status
		if !l.readyOnce {
			l.readyOnce = true
			k.opts.Ready(nil)
			l.notify("READY=1\nSTATUS=" + status)
			// Loading the config and starting every service left garbage
			// that an idle keeper would never collect: hand it back now,
			// and unmap the binary's pages that start-up ran (the ones
			// used at rest come back from the page cache), and again
			// after later collections, at most once a minute. From now
			// on collections follow the live heap, with none forced at
			// rest.
			debug.FreeOSMemory()
			codepages.KeepReleased(k.log, time.Minute)
			gcpace.Follow()
		} else {
			l.notify("STATUS=" + status)
		}
	case efUpgradeDone:
		k.log.Info("upgrade complete", "from", l.upgradeFrom, "to", k.opts.Binary)
		l.upgradeFrom = ""
		l.stopUpgradeTimer()
		if l.rollbackFd > 0 {
			_ = syscall.Close(l.rollbackFd)
			l.rollbackFd = 0
		}
	case efNotePong:
		l.lastPong = time.Now()
		if k.opts.WatchdogEvery > 0 && time.Since(l.lastWatchdog) >= k.opts.WatchdogEvery/2 {
			l.lastWatchdog = time.Now()
			l.notify("WATCHDOG=1")
		}
	case efNoteBye:
		code := raw.(evBye).code
		l.byeCode = &code
	case efPing:
		l.conn.out.push(pingMessage)
	case efAbort, efKill:
		l.endReason = l.endingReason(e)
		k.log.Error("ending the core", "pid", l.core.Pid(), "reason", l.endReason)
		if f == efKill {
			l.killCore(syscall.SIGKILL)
			break
		}
		// SIGABRT makes the Go runtime write every goroutine's stack to the
		// crash output; SIGCONT wakes a stopped core so that it can.
		l.killCore(syscall.SIGABRT)
		_ = l.core.Signal(syscall.SIGCONT)
	case efKillTree:
		k.log.Warn("core did not exit in time; killing it", "pid", l.core.Pid())
		_ = l.core.KillTree()
	case efDropConn:
		l.dropConn()
	case efWatchLost:
		// One that lives on without its socket can do nothing useful.
		p := l.core
		time.AfterFunc(time.Second, func() { k.emit(evConnLost{p}) })
	case efAwaitSocket:
		p := l.core
		time.AfterFunc(time.Second, func() { k.emit(evCoreExitDue{p}) })
	case efEnded:
		return l.coreExited()
	case efSpawn:
		if err := l.startCore(); err != nil {
			k.log.Error("start core", "err", err)
			return l.step(ceSpawnFailed, nil)
		}
		return l.step(ceSpawned, nil)
	case efBackoff:
		l.retryStart()
	case efCancelRestart:
		if l.restartTimer != nil {
			l.restartTimer.Stop()
			l.restartTimer = nil
		}
	case efAnnounceStop:
		k.log.Info("stopping", "by", l.stopCause(e, raw))
		l.notify("STOPPING=1")
	case efIgnoreStop:
		k.log.Warn("already stopping; signal ignored", "signal", l.stopCause(e, raw))
	case efSendStop:
		l.conn.out.push(&message{Op: opStop})
	case efKillAllExit:
		k.log.Error("no core can stop the services; killing them")
		k.killAll()
		return 1, true
	case efSendReload:
		k.log.Info("SIGHUP received: reloading the config")
		l.conn.out.push(&message{Op: opReload})
	case efNoReload:
		k.log.Warn("SIGHUP: no core to reload the config right now")
	case efCheckBinary:
		l.checkUpgrade(raw.(evUpgrade))
	case efRefuseUpgrade:
		l.refuseUpgrade(raw)
	case efQuit:
		l.quitForUpgrade(raw.(evUpgradeChecked))
	}
	return 0, false
}

// endingReason says why the keeper ends the core on e.
func (l *loop) endingReason(e coreEvent) string {
	switch e {
	case ceStartDue:
		return fmt.Sprintf("hung: not ready within %s of its start", l.k.opts.CoreTimeout)
	case ceSilent:
		return fmt.Sprintf("hung: no answer for %s", time.Since(l.lastPong).Round(time.Millisecond))
	case ceConnLost:
		return "lost its keeper connection"
	case ceUpgradeDue:
		return fmt.Sprintf("not ready within %s of an upgrade", upgradeReady)
	}
	return e.String()
}

// stopCause names what asked for a stop: a signal, or the core.
func (l *loop) stopCause(e coreEvent, raw any) string {
	if sig, ok := raw.(syscall.Signal); ok {
		return sig.String()
	}
	if e == ceStopping {
		return "the core"
	}
	return e.String()
}

// coreExited decides what follows the end of a core.
func (l *loop) coreExited() (int, bool) {
	k := l.k
	p := l.core
	l.core = nil
	l.dropConn()
	l.stopKillTimer()
	wasReady := l.connReady
	end := &CoreEnd{Pid: p.Pid(), At: p.Exit().At, Exit: p.Exit().String(), Reason: l.endReason}
	if end.Reason == "" {
		end.Reason = ReasonCrashed
		if l.byeCode != nil {
			end.Reason = ReasonStopped
		}
	}
	end.Output = readCrashOutput(k.opts.Dir, l.crashFrom)
	k.corePid.Store(0)
	l.previous = end
	l.publish()

	if l.stopping && l.byeCode == nil && l.upgradeTo == "" {
		l.stopCrashes++
	}
	facts := exitFacts{
		bye:            l.byeCode != nil,
		upgrading:      l.upgradeTo != "",
		neverReady:     l.firstStart && !l.readyOnce,
		upgradeUnready: l.upgradeFrom != "" && !wasReady,
		stopping:       l.stopping,
		stopCrashes:    l.stopCrashes,
	}
	if !facts.bye && !facts.upgrading {
		k.log.Error("core ended", "pid", p.Pid(), "exit", end.Exit, "reason", end.Reason)
	}
	for _, step := range afterExit(facts) {
		switch step {
		case stepFinish:
			k.log.Info("core stopped the services and exited", "pid", p.Pid())
			return *l.byeCode, true
		case stepExecUpgrade:
			to := l.upgradeTo
			// The exec closes the pipes: pass on what the old core said last.
			l.waitCoreOutput()
			err := l.execUpgrade()
			// Only a failure returns: the keeper carries on with its own binary.
			k.log.Error("upgrade failed; keeping the running binary", "err", err)
			l.upgradeTo = ""
			l.upgrade = &UpgradeResult{At: time.Now(), From: k.opts.Binary, To: to, Error: err.Error(), Active: k.opts.Binary}
			l.publish()
			return l.step(ceRestartDue, nil)
		case stepFailStart:
			err := fmt.Errorf("core exited before it was ready (%s)", end.Exit)
			l.waitCoreOutput() // its last lines say why
			if msg := k.coreErr.Load(); msg != nil {
				err = fmt.Errorf("core exited before it was ready (%s): %s", end.Exit, *msg)
			}
			if end.Output != "" {
				err = fmt.Errorf("%w:\n%s", err, end.Output)
			}
			l.fail(err)
			return 1, true
		case stepRollback:
			l.waitCoreOutput() // why it failed, before the exec closes the pipes
			l.rollback(fmt.Errorf("the new core ended before it was ready: %s (%s)", end.Exit, end.Reason))
			// rollback returns only when even that failed; carry on as we are.
		case stepKillAll:
			k.log.Error("cores keep dying during the stop; killing every service")
			k.killAll()
			return 1, true
		case stepRestart:
			l.restarts++
			l.publish()
			if !wasReady {
				l.failsBeforeReady++
			}
			l.openFallback()
			return l.scheduleRestart()
		}
	}
	return 0, false
}

// openFallback makes the keeper answer the control socket until the next
// core is ready: commands learn that the core restarts instead of finding
// no supervisor.
func (l *loop) openFallback() {
	path := l.k.opts.ControlSocket
	if path == "" {
		return
	}
	// Always bind anew: the file may be a dead core's, or gone. Until the
	// next start is scheduled (updateFallback), the answer is that a core
	// is on its way.
	l.closeFallback(false)
	fb, err := bindFallback(path, fallbackState{keeperPid: os.Getpid(), failing: l.failsBeforeReady > 0, starting: true, lastEnd: l.previous})
	if err != nil {
		l.k.log.Warn("answer the control socket while the core restarts", "err", err)
		return
	}
	l.fb = fb
}

func (l *loop) closeFallback(remove bool) {
	if l.fb != nil {
		l.fb.close(remove)
		l.fb = nil
	}
}

// updateFallback tells the fallback what the core is doing.
func (l *loop) updateFallback() {
	if l.fb == nil {
		return
	}
	s := fallbackState{keeperPid: os.Getpid(), failing: l.failsBeforeReady > 0}
	if l.core != nil {
		s.starting = !l.connReady
	} else if l.restartTimer != nil {
		s.nextAt = l.nextStart
	}
	s.lastEnd = l.previous
	l.fb.set(s)
}

// scheduleRestart paces the next core after one ended: at once, or after
// its backoff (see restartDelay).
func (l *loop) scheduleRestart() (int, bool) {
	var delay time.Duration
	delay, l.crashes = restartDelay(l.failsBeforeReady, l.crashes, time.Now())
	if delay == 0 {
		return l.step(ceRestartDue, nil)
	}
	l.armRestart(delay)
	return 0, false
}

// retryStart paces the next attempt after a core could not be started: a
// failure before it was ready, so backing off.
func (l *loop) retryStart() {
	l.failsBeforeReady++
	var delay time.Duration
	delay, l.crashes = restartDelay(l.failsBeforeReady, l.crashes, time.Now())
	l.armRestart(delay)
}

// armRestart starts the next core after delay.
func (l *loop) armRestart(delay time.Duration) {
	l.k.log.Warn("next core start delayed", "delay", delay)
	if l.restartTimer != nil {
		l.restartTimer.Stop()
	}
	l.restartTimer = time.NewTimer(delay)
	l.nextStart = time.Now().Add(delay)
	l.updateFallback()
}

// startTicker pings the core at pingEvery's pace.
func (l *loop) startTicker() {
	every := pingEvery(l.k.opts.CoreTimeout, l.k.opts.WatchdogEvery)
	if l.ticker == nil {
		l.ticker = time.NewTicker(every)
	} else {
		l.ticker.Reset(every)
	}
}

// tick is the ping timer: it asks the core for a sign of life, or ends a
// core that gave none for too long.
func (l *loop) tick() (int, bool) {
	if hung, _ := silentTooLong(l.lastPong, time.Now(), l.k.opts.CoreTimeout); hung {
		return l.step(ceSilent, nil)
	}
	return l.step(ceTick, nil)
}

// killCore signals the core and, unless sig is SIGKILL, kills it after quitGrace.
func (l *loop) killCore(sig syscall.Signal) {
	p := l.core
	if p == nil {
		return
	}
	if err := p.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		l.k.log.Warn("signal core", "pid", p.Pid(), "err", err)
	}
	if sig != syscall.SIGKILL {
		l.armKill(p)
	}
}

type evKillCore struct{ p *proc.Process }

type evConnLost struct{ p *proc.Process }

// evStartDue: a core's time to become ready is up.
type evStartDue struct{ p *proc.Process }

// evCoreExitDue: the exited core's socket did not close in time.
type evCoreExitDue struct{ p *proc.Process }

type evUpgradeCheck struct{}

func (l *loop) armKill(p *proc.Process) {
	l.stopKillTimer()
	l.killTimer = time.AfterFunc(quitGrace, func() { l.k.emit(evKillCore{p}) })
}

func (l *loop) stopKillTimer() {
	if l.killTimer != nil {
		l.killTimer.Stop()
		l.killTimer = nil
	}
}

func (l *loop) stopUpgradeTimer() {
	if l.upgradeTimer != nil {
		l.upgradeTimer.Stop()
		l.upgradeTimer = nil
	}
}

// dropConn forgets the connected core; exits from now on wait for the next one.
func (l *loop) dropConn() {
	if l.ticker != nil {
		l.ticker.Stop()
		l.ticker = nil
	}
	c := l.conn
	l.conn = nil
	if c == nil {
		return
	}
	k := l.k
	k.mu.Lock()
	if k.conn == c {
		k.conn = nil
	}
	for _, e := range k.procs {
		e.announced = false
	}
	k.mu.Unlock()
	c.shut()
}

// signal handles a signal to the keeper: TERM, INT and QUIT stop everything
// in order (through the core), HUP reloads the config, USR1 reopens the log
// files; USR2 and ALRM are logged and ignored, PIPE only ignored.
//
// QUIT is a stop, not the Go runtime's stack dump: it is what Ctrl-\ sends
// to a foreground `up`, and the dump would end the keeper and SIGKILL every
// service with it. A dump of the core, where the logic lives, is a SIGQUIT
// to the core's pid: the keeper replaces it without touching a service.
func (l *loop) signal(sig syscall.Signal) (code int, done bool) {
	k := l.k
	switch sig {
	case syscall.SIGPIPE:
		// The write that raised it failed with EPIPE and is dealt with
		// there; a log line here might go to that same closed pipe.
		return 0, false
	case syscall.SIGUSR1:
		k.reopenLogs()
		return 0, false
	case syscall.SIGUSR2, syscall.SIGALRM:
		k.log.Info("signal ignored", "signal", unix.SignalName(sig))
		return 0, false
	}
	if sig == syscall.SIGHUP {
		return l.step(ceReload, sig)
	}
	return l.step(ceStop, sig)
}

// publish makes the loop's lifecycle facts visible to the other goroutines.
func (l *loop) publish() {
	l.k.facts.Store(&coreFacts{restarts: l.restarts, previous: l.previous, upgrade: l.upgrade, stopping: l.stopping})
}

func (l *loop) notify(state string) {
	if err := l.k.opts.Notify(state); err != nil {
		l.k.log.Warn("sd_notify", "err", err)
	}
}

// fail reports a failed start and kills whatever runs.
func (l *loop) fail(err error) {
	l.k.log.Error("keeper failed", "err", err)
	if !l.readyOnce {
		l.readyOnce = true
		l.k.opts.Ready(err)
	}
	l.k.killAll()
}

// finish releases what the keeper holds and returns its exit code.
func (l *loop) finish(code int) (int, error) {
	k := l.k
	l.closeFallback(true)
	if l.core == nil {
		l.waitCoreOutput()
	}
	l.ln.close()
	if err := k.opts.Dir.RemoveSocket(SocketName); err != nil {
		k.log.Warn("remove keeper socket", "err", err)
	}
	if err := k.capture.Close(); err != nil && !errors.Is(err, logs.ErrClosed) {
		k.log.Warn("close capture", "err", err)
	}
	k.mu.Lock()
	for name, s := range k.sinks {
		if err := s.Close(); err != nil {
			k.log.Warn("close log", "service", name, "err", err)
		}
	}
	k.mu.Unlock()
	k.closeListeners()
	k.killOrphans()
	if err := k.mgr.Close(); err != nil {
		k.log.Warn("close process manager", "err", err)
	}
	k.records.close(code == 0)
	return code, nil
}

// readCrashOutput returns the start of a core's crash output, which begins at
// offset from in the crash log: the panic message and the failing goroutine
// come first.
func readCrashOutput(dir *statedir.Dir, from int64) string {
	const max = 8 << 10
	f, err := dir.Open(CrashName)
	if err != nil {
		return ""
	}
	defer f.Close()
	b := make([]byte, max)
	n, _ := io.ReadFull(io.NewSectionReader(f, from, max), b)
	return string(b[:n])
}
