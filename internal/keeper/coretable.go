package keeper

import (
	"fmt"
	"strings"
)

// The core's lifecycle as a table, the way service.Next decides a
// service's: the loop turns what happened (a message on the core's socket,
// a timer, a signal, the core's exit) into one coreEvent, asks coreNext,
// and does the effects in order. Events that belong to an earlier core or
// connection are dropped by the loop before they get here.

// corePhase is where the current core is in its life.
type corePhase uint8

const (
	phaseDown     corePhase = iota // no core runs: the next starts at once or after its backoff
	phaseStarting                  // a core runs and is not ready yet
	phaseReady                     // the core serves the control socket
	phaseEnding                    // the keeper ends it (hung, lost its socket, not ready after an upgrade): its exit follows
	phaseQuitting                  // asked to quit for an upgrade: the exec follows its exit
	phaseExited                    // it exited; its socket's last messages are read before its exit is handled
	numPhases
)

var phaseNames = [numPhases]string{"down", "starting", "ready", "ending", "quitting", "exited"}

func (p corePhase) String() string {
	if p < numPhases {
		return phaseNames[p]
	}
	return fmt.Sprintf("corePhase(%d)", uint8(p))
}

// coreState is everything coreNext decides on.
type coreState struct {
	phase corePhase
	// conn: the core's connection is open.
	conn bool
	// stopping: an ordered stop is under way (a signal to the keeper, or
	// the core said so).
	stopping bool
	// probation: this is an upgraded image whose first core is not ready
	// yet; if it ends first, the upgrade is rolled back.
	probation bool
}

func (s coreState) String() string {
	var b strings.Builder
	b.WriteString(s.phase.String())
	for _, f := range []struct {
		on   bool
		name string
	}{{s.conn, "conn"}, {s.stopping, "stopping"}, {s.probation, "probation"}} {
		if f.on {
			b.WriteString("+" + f.name)
		}
	}
	return b.String()
}

// coreEvent is one thing that happened to the core, or to the keeper.
type coreEvent uint8

const (
	ceConnected      coreEvent = iota // the current core connected
	ceReady                           // it says it is ready
	cePong                            // it answered a ping
	ceBye                             // it says it stopped the services and the keeper is to exit
	ceTick                            // time to ping, and it answered the last in time
	ceSilent                          // time to ping, and it has been silent for longer than the core timeout
	ceStartDue                        // the core timeout since its start is up
	ceConnGone                        // its connection closed
	ceConnLost                        // a second after that, it still runs
	ceExit                            // the core process exited
	ceExitDue                         // a second after its exit, its socket is still open
	ceKillDue                         // quitGrace after it was told to end, it still runs
	ceRestartDue                      // time to start the next core
	ceSpawned                         // a core process was started
	ceSpawnFailed                     // starting one failed
	ceStop                            // a signal asks the keeper to stop everything
	ceStopping                        // the core says an ordered stop is under way
	ceReload                          // a signal asks for a config reload
	ceUpgrade                         // the core asks for an upgrade
	ceUpgradeChecked                  // the new binary passed its check
	ceUpgradeDue                      // an upgraded image's first core is not ready in time
	numCoreEvents
)

var coreEventNames = [numCoreEvents]string{
	"connected", "ready", "pong", "bye", "tick", "silent", "start-due", "conn-gone", "conn-lost",
	"exit", "exit-due", "kill-due", "restart-due", "spawned", "spawn-failed", "stop", "stopping",
	"reload", "upgrade", "upgrade-checked", "upgrade-due",
}

func (e coreEvent) String() string {
	if e < numCoreEvents {
		return coreEventNames[e]
	}
	return fmt.Sprintf("coreEvent(%d)", uint8(e))
}

// coreEffect is one thing the loop does, in the order given.
type coreEffect uint8

const (
	efServe         coreEffect = iota + 1 // take the connection, read it and ping it
	efRefuseConn                          // close the connection
	efMarkReady                           // the core serves the control socket: close the fallback, tell systemd
	efUpgradeDone                         // the upgraded image's first core is ready: the rollback is no longer needed
	efNotePong                            // note the answer; pass it on to systemd's watchdog
	efNoteBye                             // keep the exit code the bye gave
	efPing                                // ping the core
	efAbort                               // SIGABRT (a stack dump) and SIGCONT, then SIGKILL after quitGrace
	efKill                                // SIGKILL
	efKillTree                            // SIGKILL the core and what it left
	efDropConn                            // forget the connection
	efWatchLost                           // a core without its socket is ended if it still runs a second later
	efAwaitSocket                         // read the socket's last messages; the exit waits a second at most
	efEnded                               // record the end; afterExit says what follows
	efSpawn                               // start a core
	efBackoff                             // start the next core after its backoff
	efCancelRestart                       // a restart timer is pending: stop it
	efAnnounceStop                        // publish the stop and tell systemd
	efIgnoreStop                          // already stopping: say so
	efSendStop                            // ask the core to stop every service and say bye
	efKillAllExit                         // no core can stop the services: kill them, exit 1
	efSendReload                          // ask the core to reload the config
	efNoReload                            // no core can reload now: say so
	efCheckBinary                         // check the new binary, away from the loop
	efRefuseUpgrade                       // answer the upgrade request with why not
	efQuit                                // answer the upgrade request, ask the core to quit, kill it after quitGrace
	numCoreEffects
)

var coreEffectNames = [numCoreEffects]string{
	"", "serve", "refuse-conn", "mark-ready", "upgrade-done", "note-pong", "note-bye", "ping",
	"abort", "kill", "kill-tree", "drop-conn", "watch-lost", "await-socket", "ended", "spawn",
	"backoff", "cancel-restart", "announce-stop", "ignore-stop", "send-stop", "kill-all-exit",
	"send-reload", "no-reload", "check-binary", "refuse-upgrade", "quit",
}

func (e coreEffect) String() string {
	if e > 0 && e < numCoreEffects {
		return coreEffectNames[e]
	}
	return fmt.Sprintf("coreEffect(%d)", uint8(e))
}

// alive: a core process runs (or has exited and is not yet handled).
func (p corePhase) alive() bool { return p != phaseDown }

// running: the core runs and the keeper has not begun to end it.
func (p corePhase) running() bool { return p == phaseStarting || p == phaseReady }

// coreNext decides what follows event e in state s: the new state and the
// effects, in order. ok is false when e means nothing in s (the state and
// the effects are then s and nil): a late timer, a message from a core
// being ended.
func coreNext(s coreState, e coreEvent) (to coreState, effects []coreEffect, ok bool) {
	to = s
	switch e {
	case ceConnected:
		if s.phase == phaseStarting && !s.conn {
			to.conn = true
			return to, []coreEffect{efServe}, true
		}
		// A second connection, or one from a core being ended.
		return s, []coreEffect{efRefuseConn}, true
	case ceReady:
		if s.phase == phaseStarting && s.conn {
			to.phase = phaseReady
			if s.probation {
				to.probation = false
				return to, []coreEffect{efMarkReady, efUpgradeDone}, true
			}
			return to, []coreEffect{efMarkReady}, true
		}
	case cePong:
		if s.phase.running() && s.conn {
			return s, []coreEffect{efNotePong}, true
		}
	case ceBye:
		// The last words of a core that exited count: that is what the
		// exited phase waits for.
		if s.conn {
			return s, []coreEffect{efNoteBye}, true
		}
	case ceTick:
		if s.phase.running() && s.conn {
			return s, []coreEffect{efPing}, true
		}
	case ceSilent:
		if s.phase.running() && s.conn {
			to.phase = phaseEnding
			return to, []coreEffect{efAbort}, true
		}
	case ceStartDue:
		if s.phase == phaseStarting {
			to.phase = phaseEnding
			return to, []coreEffect{efAbort}, true
		}
	case ceUpgradeDue:
		if s.phase == phaseStarting && s.probation {
			to.phase = phaseEnding
			return to, []coreEffect{efKill}, true
		}
	case ceConnGone:
		if !s.conn {
			break
		}
		to.conn = false
		switch s.phase {
		case phaseExited:
			to.phase = phaseDown
			return to, []coreEffect{efDropConn, efEnded}, true
		case phaseStarting, phaseReady:
			// Usually the core died and its exit follows.
			return to, []coreEffect{efDropConn, efWatchLost}, true
		}
		return to, []coreEffect{efDropConn}, true
	case ceConnLost:
		if s.phase.running() && !s.conn {
			to.phase = phaseEnding
			return to, []coreEffect{efKill}, true
		}
	case ceExit:
		if !s.phase.alive() || s.phase == phaseExited {
			break
		}
		if s.conn {
			// Its socket may still hold its last words (a bye after an
			// ordered stop): read them first, bounded.
			to.phase = phaseExited
			return to, []coreEffect{efAwaitSocket}, true
		}
		to.phase = phaseDown
		return to, []coreEffect{efEnded}, true
	case ceExitDue:
		if s.phase == phaseExited {
			to.phase, to.conn = phaseDown, false
			return to, []coreEffect{efDropConn, efEnded}, true
		}
	case ceKillDue:
		if s.phase == phaseEnding || s.phase == phaseQuitting {
			return s, []coreEffect{efKillTree}, true
		}
	case ceRestartDue:
		if s.phase == phaseDown {
			return s, []coreEffect{efSpawn}, true
		}
	case ceSpawned:
		if s.phase == phaseDown {
			to.phase = phaseStarting
			return to, nil, true
		}
	case ceSpawnFailed:
		if s.phase == phaseDown {
			if s.stopping {
				return s, []coreEffect{efKillAllExit}, true
			}
			return s, []coreEffect{efBackoff}, true
		}
	case ceStop:
		if s.stopping {
			return s, []coreEffect{efIgnoreStop}, true
		}
		to.stopping = true
		switch {
		case s.conn:
			return to, []coreEffect{efAnnounceStop, efSendStop}, true
		case s.phase == phaseDown:
			// Only a core can stop the services in order.
			return to, []coreEffect{efAnnounceStop, efCancelRestart, efSpawn}, true
		}
		// A core that is starting learns of the stop in its hello; one
		// being ended is followed by one that does.
		return to, []coreEffect{efAnnounceStop}, true
	case ceStopping:
		if !s.stopping {
			to.stopping = true
			return to, []coreEffect{efAnnounceStop}, true
		}
		return s, nil, true
	case ceReload:
		if s.phase == phaseReady && s.conn {
			return s, []coreEffect{efSendReload}, true
		}
		return s, []coreEffect{efNoReload}, true
	case ceUpgrade:
		if s.phase.running() && s.conn && !s.stopping && !s.probation {
			return s, []coreEffect{efCheckBinary}, true
		}
		return s, []coreEffect{efRefuseUpgrade}, true
	case ceUpgradeChecked:
		if s.phase.running() && s.conn && !s.stopping && !s.probation {
			to.phase = phaseQuitting
			return to, []coreEffect{efQuit}, true
		}
		return s, []coreEffect{efRefuseUpgrade}, true
	}
	return s, nil, false
}
