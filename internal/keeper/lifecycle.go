package keeper

import (
	"fmt"
	"time"
)

// The decisions of the core's lifecycle, as pure functions of what the
// keeper knows: what follows the end of a core, when the next one starts,
// when a silent core is hung, how often it is pinged. The loop gathers the
// facts, asks, and does what the answer says; tests walk every row.

// Restart pacing of the core. A core that had started the services is
// restarted at once: the services are running and need a supervisor back.
// One that dies before it is ready backs off, doubling up to restartMax; and
// so many crashes in a minute that a restart loop is likely slow down too.
const (
	restartFirst = 100 * time.Millisecond
	restartMax   = 10 * time.Second
	crashBurst   = 30
	crashWindow  = time.Minute
	// maxStopCrashes: cores dying during an ordered stop; then the keeper kills everything itself.
	maxStopCrashes = 3
)

const (
	// quitGrace bounds how long a core told to quit (or aborted) may take.
	quitGrace = 5 * time.Second
	// upgradeReady bounds how long the first core of an upgraded keeper may
	// take to be ready before the upgrade is rolled back.
	upgradeReady = 30 * time.Second
)

// exitFacts are what the keeper knows when its current core has ended.
type exitFacts struct {
	bye        bool // it said bye: it stopped the services and the keeper is to exit
	upgrading  bool // it quit so that the keeper can exec a new binary
	neverReady bool // it was this keeper's first core and was never ready: the start failed
	// upgradeUnready: it was the first core of an upgraded image and died
	// before it was ready: the upgrade is rolled back.
	upgradeUnready bool
	stopping       bool // an ordered stop is under way
	// stopCrashes counts the cores that ended during the stop, this one included.
	stopCrashes int
}

// exitStep is one thing the keeper does after a core ended, in order.
type exitStep uint8

const (
	stepFinish      exitStep = iota + 1 // exit with the code the core's bye gave
	stepExecUpgrade                     // exec the new binary; on failure carry on with a new core
	stepFailStart                       // report the failed start, kill everything, exit 1
	stepRollback                        // exec the binary upgraded from; on failure carry on
	stepKillAll                         // cores keep dying during the stop: kill every service, exit 1
	stepRestart                         // count the restart and start the next core, paced
)

var stepNames = map[exitStep]string{
	stepFinish: "finish", stepExecUpgrade: "exec-upgrade", stepFailStart: "fail-start",
	stepRollback: "rollback", stepKillAll: "kill-all", stepRestart: "restart",
}

func (s exitStep) String() string {
	if n, ok := stepNames[s]; ok {
		return n
	}
	return fmt.Sprintf("exitStep(%d)", uint8(s))
}

// afterExit decides what follows the end of a core. A bye ends the keeper;
// an upgrade's quit execs the new binary (a failed exec starts a new core
// of the old one); a first core that never became ready fails the start; an
// upgraded image whose first core died before it was ready rolls back (and
// carries on if even that fails). Otherwise the keeper starts another core,
// unless cores keep dying during an ordered stop: then it kills every
// service itself.
func afterExit(f exitFacts) []exitStep {
	switch {
	case f.bye:
		return []exitStep{stepFinish}
	case f.upgrading:
		return []exitStep{stepExecUpgrade}
	case f.neverReady:
		return []exitStep{stepFailStart}
	}
	var steps []exitStep
	if f.upgradeUnready {
		steps = append(steps, stepRollback)
	}
	if f.stopping && f.stopCrashes > maxStopCrashes {
		return append(steps, stepKillAll)
	}
	return append(steps, stepRestart)
}

// restartDelay paces the next core after one ended at now: at once when
// the last core had been ready (the services need a supervisor back);
// doubling from restartFirst up to restartMax while cores die before they
// are ready; at least restartMax/2 when more than crashBurst cores ended
// within crashWindow, which a restart loop would show. crashes are the
// earlier ends still in the window; it returns them with this one added.
func restartDelay(failsBeforeReady int, crashes []time.Time, now time.Time) (time.Duration, []time.Time) {
	crashes = append(crashes, now)
	for len(crashes) > 0 && now.Sub(crashes[0]) > crashWindow {
		crashes = crashes[1:]
	}
	var delay time.Duration
	if failsBeforeReady > 0 {
		delay = min(restartFirst<<min(failsBeforeReady-1, 10), restartMax)
	}
	if len(crashes) > crashBurst {
		delay = max(delay, restartMax/2)
	}
	return delay, crashes
}

// silentTooLong says whether a connected core that last answered a ping at
// lastPong is hung at now, and for how long it has been silent.
func silentTooLong(lastPong, now time.Time, timeout time.Duration) (bool, time.Duration) {
	silent := now.Sub(lastPong)
	return silent > timeout, silent
}

// pingEvery is how often the core is pinged: every half core timeout, often
// enough to catch a hang within one and a half timeouts, rarely enough that
// an idle supervisor costs next to nothing (each ping wakes both
// processes); twice per systemd watchdog interval when that is shorter, as
// each answer is what the keeper passes on to the watchdog.
func pingEvery(coreTimeout, watchdog time.Duration) time.Duration {
	every := coreTimeout / 2
	if watchdog > 0 && watchdog/2 < every {
		every = watchdog / 2
	}
	return every
}
