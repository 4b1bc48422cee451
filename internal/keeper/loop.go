//go:build linux

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

	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/proc"
	"github.com/respawn-sh/respawn/internal/statedir"
	"golang.org/x/sys/unix"
)

const (
	// quitGrace bounds how long a core told to quit (or aborted) may take.
	quitGrace = 5 * time.Second
	// upgradeReady bounds how long the first core of an upgraded keeper may
	// take to be ready before the upgrade is rolled back.
	upgradeReady = 30 * time.Second
)

// loop is the state of the keeper's main loop. Only the loop goroutine uses it.
type loop struct {
	k        *Keeper
	ln       *listener
	sockPath string

	firstStart bool // this keeper's first core, not one after an upgrade
	readyOnce  bool // Options.Ready was called

	core *proc.Process
	// exitedCore is the core that exited while its socket was still open:
	// its exit is handled once the socket's last messages are.
	exitedCore *proc.Process
	conn       *coreConn
	connReady  bool
	crashFrom  int64  // where the current core's output begins in the crash log
	endReason  string // why the keeper ended the current core, if it did

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

// handle processes one event; done reports the keeper should exit with code.
func (l *loop) handle(ev any) (code int, done bool) {
	k := l.k
	switch ev := ev.(type) {
	case evConnected:
		if l.core == nil || ev.c.pid != l.core.Pid() || l.conn != nil {
			k.log.Warn("refused a core connection", "pid", ev.c.pid)
			ev.c.shut()
			return 0, false
		}
		l.conn = ev.c
		l.lastPong = time.Now()
		go ev.c.serve()
		l.startTicker()
	case evConnGone:
		if ev.c != l.conn {
			return 0, false
		}
		l.dropConn()
		if p := l.exitedCore; p != nil {
			// Everything the core sent before it died (a bye, a ready) has
			// been handled: now its exit.
			l.exitedCore = nil
			return l.coreExited(p)
		}
		if p := l.core; p != nil && l.endReason == "" {
			// Usually the core died and its exit follows; one that lives on
			// without its socket can do nothing useful.
			time.AfterFunc(time.Second, func() { k.emit(evConnLost{p}) })
		}
	case evStartDue:
		if l.core == ev.p && !l.connReady && l.endReason == "" {
			l.endReason = fmt.Sprintf("hung: not ready within %s of its start", k.opts.CoreTimeout)
			k.log.Error("core is not ready in time; restarting it", "pid", ev.p.Pid())
			l.killCore(syscall.SIGABRT)
			_ = ev.p.Signal(syscall.SIGCONT)
		}
	case evConnLost:
		if l.core == ev.p && l.conn == nil && l.endReason == "" {
			l.endReason = "lost its keeper connection"
			l.killCore(syscall.SIGKILL)
		}
	case evReady:
		if ev.c != l.conn {
			return 0, false
		}
		l.connReady = true
		l.failsBeforeReady = 0
		// The core serves its control socket now.
		l.closeFallback(false)
		if !l.readyOnce {
			l.readyOnce = true
			k.opts.Ready(nil)
			l.notify("READY=1\nSTATUS=" + ev.status)
			// Loading the config and starting every service left garbage
			// that an idle keeper would never collect: hand it back now.
			debug.FreeOSMemory()
		} else {
			l.notify("STATUS=" + ev.status)
		}
		if l.upgradeFrom != "" {
			k.log.Info("upgrade complete", "from", l.upgradeFrom, "to", k.opts.Binary)
			l.upgradeFrom = ""
			l.stopUpgradeTimer()
			if l.rollbackFd > 0 {
				_ = syscall.Close(l.rollbackFd)
				l.rollbackFd = 0
			}
		}
	case evPong:
		if ev.c != l.conn {
			return 0, false
		}
		l.lastPong = time.Now()
		if k.opts.WatchdogEvery > 0 && time.Since(l.lastWatchdog) >= k.opts.WatchdogEvery/2 {
			l.lastWatchdog = time.Now()
			l.notify("WATCHDOG=1")
		}
	case evBye:
		code := ev.code
		l.byeCode = &code
	case evStopping:
		if !l.stopping {
			l.stopping = true
			l.publish()
		}
	case evUpgrade:
		l.beginUpgrade(ev)
	case evUpgradeChecked:
		l.upgradeChecked(ev)
	case evCoreExit:
		if ev.p == l.core && l.conn != nil && l.conn.pid == ev.p.Pid() {
			// Its socket may still hold its last words (a bye after an
			// ordered stop): read them first, bounded.
			l.exitedCore = ev.p
			time.AfterFunc(time.Second, func() { k.emit(evCoreExitDue{ev.p}) })
			return 0, false
		}
		return l.coreExited(ev.p)
	case evCoreExitDue:
		if l.exitedCore == ev.p {
			l.exitedCore = nil
			return l.coreExited(ev.p)
		}
	case evUpgradeCheck:
		if l.upgradeFrom != "" && !l.connReady && l.core != nil {
			// The rollback follows the core's exit.
			l.endReason = fmt.Sprintf("not ready within %s of an upgrade", upgradeReady)
			l.killCore(syscall.SIGKILL)
		}
	case evKillCore:
		if l.core == ev.p {
			k.log.Warn("core did not exit in time; killing it", "pid", ev.p.Pid())
			_ = ev.p.KillTree()
		}
	}
	return 0, false
}

// coreExited decides what follows the end of a core.
func (l *loop) coreExited(p *proc.Process) (int, bool) {
	k := l.k
	if p != l.core {
		return 0, false
	}
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
			if err := l.startCore(); err != nil {
				l.fail(err)
				return 1, true
			}
			return 0, false
		case stepFailStart:
			err := fmt.Errorf("core exited before it was ready (%s)", end.Exit)
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
			l.scheduleRestart()
			l.updateFallback()
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

// scheduleRestart starts the next core now or after its backoff.
func (l *loop) scheduleRestart() {
	now := time.Now()
	var delay time.Duration
	delay, l.crashes = restartDelay(l.failsBeforeReady, l.crashes, now)
	if delay == 0 {
		err := l.startCore()
		if err == nil {
			return
		}
		l.k.log.Error("start core", "err", err)
		delay = restartFirst
	}
	l.k.log.Warn("next core start delayed", "delay", delay)
	l.restartTimer = time.NewTimer(delay)
	l.nextStart = now.Add(delay)
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

// ping asks the core for a sign of life, and ends a core that gave none for too long.
func (l *loop) ping() {
	if l.conn == nil || l.core == nil || l.endReason != "" {
		return
	}
	if hung, silent := silentTooLong(l.lastPong, time.Now(), l.k.opts.CoreTimeout); hung {
		l.endReason = fmt.Sprintf("hung: no answer for %s", silent.Round(time.Millisecond))
		l.k.log.Error("core is hung; restarting it", "pid", l.core.Pid(), "silent", silent.Round(time.Millisecond))
		// SIGABRT makes the Go runtime write every goroutine's stack to the
		// crash output; SIGCONT wakes a stopped core so that it can.
		l.killCore(syscall.SIGABRT)
		_ = l.core.Signal(syscall.SIGCONT)
		return
	}
	l.conn.out.push(&message{Op: opPing})
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
		if l.conn == nil || !l.connReady {
			k.log.Warn("SIGHUP: no core to reload the config right now")
			return
		}
		k.log.Info("SIGHUP received: reloading the config")
		l.conn.out.push(&message{Op: opReload})
		return 0, false
	}
	if l.stopping {
		k.log.Warn("already stopping; signal ignored", "signal", sig.String())
		return 0, false
	}
	k.log.Info("signal received, stopping", "signal", sig.String())
	l.stopping = true
	l.publish()
	l.notify("STOPPING=1")
	if l.conn != nil {
		l.conn.out.push(&message{Op: opStop})
		return 0, false
	}
	if l.core == nil {
		if l.restartTimer != nil {
			l.restartTimer.Stop()
			l.restartTimer = nil
		}
		if err := l.startCore(); err != nil {
			k.log.Error("no core can stop the services; killing them", "err", err)
			k.killAll()
			return 1, true
		}
	}
	// A core that is starting learns of the stop in its hello.
	return 0, false
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
