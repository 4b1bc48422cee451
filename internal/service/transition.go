package service

import "fmt"

// Event is something that happened to a service. The actor classifies raw facts
// (a command, an exit and the policy's verdict on it, a timer) into one Event and
// feeds it to Next; the table never looks at anything else.
type Event uint8

// The events.
const (
	EvStart            Event = iota // a person or autostart wants it up
	EvStop                          // a person or shutdown wants it down
	EvSpawned                       // the process is running
	EvSpawnFailed                   // the process could not be started
	EvExitRestart                   // it exited; policy says start again after a delay
	EvExitDone                      // it exited; policy says it is finished
	EvExitFail                      // it exited; policy says give up (start limit)
	EvExitStopped                   // it exited after a stop, and it is wanted down
	EvExitStoppedStart              // it exited after a stop, and it is wanted up again (restart)
	EvBackoffElapsed                // the backoff delay is over
	EvStopTimeout                   // the stop timeout passed and it is still alive
	EvCooldownElapsed               // the cooldown after a failure is over
	EvGateClosed                    // a spawn was held: what the service depends on is not satisfied
	EvDepsReady                     // what a waiting service depends on is satisfied now
	EvReady                         // the readiness probe passed
	EvReadyFailed                   // the readiness deadline passed: a failed start
	EvUnhealthy                     // the liveness check failed enough times: restart it
	EvRestart                       // a person wants a new run: the current one stops first
	EvReconfigured                  // a reload changed what shapes the process: a run in progress or pending is replaced
	numEvents
)

var eventNames = [numEvents]string{
	EvStart:            "start",
	EvStop:             "stop",
	EvSpawned:          "spawned",
	EvSpawnFailed:      "spawn-failed",
	EvExitRestart:      "exit-restart",
	EvExitDone:         "exit-done",
	EvExitFail:         "exit-fail",
	EvExitStopped:      "exit-stopped",
	EvExitStoppedStart: "exit-stopped-start",
	EvBackoffElapsed:   "backoff-elapsed",
	EvStopTimeout:      "stop-timeout",
	EvCooldownElapsed:  "cooldown-elapsed",
	EvGateClosed:       "gate-closed",
	EvDepsReady:        "deps-ready",
	EvReady:            "ready",
	EvReadyFailed:      "ready-failed",
	EvUnhealthy:        "unhealthy",
	EvRestart:          "restart",
	EvReconfigured:     "reconfigured",
}

func (e Event) String() string {
	if e < numEvents {
		return eventNames[e]
	}
	return fmt.Sprintf("Event(%d)", uint8(e))
}

// Effect is one thing the actor must do after a transition, in order.
type Effect uint8

// The effects.
const (
	EffSpawn           Effect = iota + 1 // start a new incarnation (its outcome comes back as EvSpawned or EvSpawnFailed)
	EffSignalStop                        // send the stop signal to the process group and arm the stop timer
	EffKillTree                          // SIGKILL whatever is left of the process tree
	EffAwaitTreeGone                     // wait until nothing of the tree remains (bounded), before publishing
	EffArmBackoff                        // arm the timer for the policy's delay
	EffArmCooldown                       // arm the timer for the cooldown (none when the cooldown is 0)
	EffCancelTimer                       // disarm whatever timer is pending
	EffResetHistory                      // forget restart attempts and the start window: a person acted
	EffMarkReadyFailed                   // note that this run missed its readiness deadline: its exit is a failed start
	EffWatch                             // start the run's liveness checks: it has just become running
	EffClearError                        // forget the error text: the service ended as it should
)

var effectNames = map[Effect]string{
	EffSpawn:           "spawn",
	EffSignalStop:      "signal-stop",
	EffKillTree:        "kill-tree",
	EffAwaitTreeGone:   "await-tree-gone",
	EffArmBackoff:      "arm-backoff",
	EffArmCooldown:     "arm-cooldown",
	EffCancelTimer:     "cancel-timer",
	EffResetHistory:    "reset-history",
	EffMarkReadyFailed: "mark-ready-failed",
	EffWatch:           "watch",
	EffClearError:      "clear-error",
}

func (e Effect) String() string {
	if n, ok := effectNames[e]; ok {
		return n
	}
	return fmt.Sprintf("Effect(%d)", uint8(e))
}

// step is one cell of the table.
type step struct {
	to      State
	effects []Effect
}

// table holds every defined (state, event) pair. A pair missing from it means the
// event does not apply in that state (a duplicate command, or a stale fact) and is
// ignored: the state stays and nothing is done. Next's tests walk every pair.
var table = map[State]map[Event]step{
	Stopped: {
		EvStart:   {Starting, []Effect{EffResetHistory, EffSpawn}},
		EvRestart: {Starting, []Effect{EffResetHistory, EffSpawn}},
	},
	Starting: {
		EvSpawned:     {Running, []Effect{EffWatch}},
		EvSpawnFailed: {Failed, nil},
		EvGateClosed:  {Waiting, nil},
		EvReady:       {Running, []Effect{EffWatch}},
		// Not ready in time: stopped like any stop (stop signal, SIGKILL
		// after the stop timeout); its exit then counts as a failed start.
		EvReadyFailed: {Stopping, []Effect{EffMarkReadyFailed, EffSignalStop}},
		EvStop:        {Stopping, []Effect{EffSignalStop}},
		// Restarted: stopped, and its exit, wanted up, starts the next run.
		EvRestart:      {Stopping, []Effect{EffSignalStop}},
		EvReconfigured: {Stopping, []Effect{EffSignalStop}},
		EvExitRestart:  {Backoff, []Effect{EffKillTree, EffArmBackoff}},
		EvExitDone:     {Exited, []Effect{EffKillTree, EffClearError}},
		EvExitFail:     {Failed, []Effect{EffKillTree, EffArmCooldown}},
	},
	Running: {
		EvStop:         {Stopping, []Effect{EffSignalStop}},
		EvRestart:      {Stopping, []Effect{EffSignalStop}},
		EvReconfigured: {Stopping, []Effect{EffSignalStop}},
		EvUnhealthy:    {Stopping, []Effect{EffSignalStop}},
		EvExitRestart:  {Backoff, []Effect{EffKillTree, EffArmBackoff}},
		EvExitDone:     {Exited, []Effect{EffKillTree, EffClearError}},
		EvExitFail:     {Failed, []Effect{EffKillTree, EffArmCooldown}},
	},
	Backoff: {
		EvBackoffElapsed: {Starting, []Effect{EffSpawn}},
		EvStart:          {Starting, []Effect{EffCancelTimer, EffResetHistory, EffSpawn}},
		EvRestart:        {Starting, []Effect{EffCancelTimer, EffResetHistory, EffSpawn}},
		EvReconfigured:   {Starting, []Effect{EffCancelTimer, EffResetHistory, EffSpawn}},
		EvStop:           {Stopped, []Effect{EffCancelTimer}},
	},
	Stopping: {
		EvExitStopped:      {Stopped, []Effect{EffCancelTimer, EffKillTree, EffAwaitTreeGone, EffClearError}},
		EvExitStoppedStart: {Starting, []Effect{EffCancelTimer, EffKillTree, EffAwaitTreeGone, EffResetHistory, EffSpawn}},
		EvStopTimeout:      {Stopping, []Effect{EffKillTree}},
		// The exit of a run stopped because it was not ready in time: the
		// restart policy decides, as for any failed start.
		EvExitRestart: {Backoff, []Effect{EffCancelTimer, EffKillTree, EffArmBackoff}},
		EvExitDone:    {Exited, []Effect{EffCancelTimer, EffKillTree, EffClearError}},
		EvExitFail:    {Failed, []Effect{EffCancelTimer, EffKillTree, EffArmCooldown}},
	},
	Exited: {
		EvStart:   {Starting, []Effect{EffResetHistory, EffSpawn}},
		EvRestart: {Starting, []Effect{EffResetHistory, EffSpawn}},
		EvStop:    {Stopped, nil},
	},
	Failed: {
		EvStart:           {Starting, []Effect{EffCancelTimer, EffResetHistory, EffSpawn}},
		EvRestart:         {Starting, []Effect{EffCancelTimer, EffResetHistory, EffSpawn}},
		EvReconfigured:    {Starting, []Effect{EffCancelTimer, EffResetHistory, EffSpawn}},
		EvStop:            {Stopped, []Effect{EffCancelTimer}},
		EvCooldownElapsed: {Starting, []Effect{EffResetHistory, EffSpawn}},
	},
	Waiting: {
		EvStart:     {Starting, []Effect{EffSpawn}},
		EvRestart:   {Starting, []Effect{EffSpawn}},
		EvDepsReady: {Starting, []Effect{EffSpawn}},
		EvStop:      {Stopped, nil},
	},
}

// Next is the transition function: pure, total, and the only place that decides
// which state follows which. ok is false when the event does not apply in s.
func Next(s State, e Event) (to State, effects []Effect, ok bool) {
	st, ok := table[s][e]
	if !ok {
		return s, nil, false
	}
	return st.to, st.effects, true
}
