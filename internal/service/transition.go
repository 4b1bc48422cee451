package service

import "fmt"

// Event is something that happened to a service. The actor classifies raw facts
// (a command, an exit and the policy's verdict on it, a timer) into one Event and
// feeds it to Next with the service's Status; the table never looks at anything
// else.
type Event uint8

// The events.
const (
	EvStart           Event = iota // a person or autostart wants it up
	EvStop                         // a person or shutdown wants it down
	EvSpawned                      // the process is running
	EvSpawnFailed                  // the process could not be started
	EvExitRestart                  // it exited; policy says start again after a delay
	EvExitDone                     // it exited; policy says it is finished
	EvExitFail                     // it exited; policy says give up (start limit)
	EvExitStopped                  // it exited after a stop (whether it starts again is the table's choice, by Wanted)
	EvBackoffElapsed               // the backoff delay is over
	EvStopTimeout                  // the stop timeout passed and it is still alive
	EvCooldownElapsed              // the cooldown after a failure is over
	EvGateClosed                   // a spawn was held: what the service depends on is not satisfied
	EvDepsReady                    // what a waiting service depends on is satisfied now
	EvReady                        // the readiness probe passed
	EvReadyFailed                  // the readiness deadline passed: a failed start
	EvUnhealthy                    // the liveness check failed enough times: restart it
	EvRestart                      // a person wants a new run: the current one stops first
	EvReconfigured                 // a reload changed what shapes the process: a run in progress or pending is replaced
	EvReplace                      // a restart (a person's, a reload's, the liveness check's) of a running service whose strategy is start-first
	EvNextReady                    // the replacement started beside the running incarnation is ready
	EvNextFailed                   // the replacement could not be started, exited, or missed its readiness deadline
	numEvents
)

var eventNames = [numEvents]string{
	EvStart:           "start",
	EvStop:            "stop",
	EvSpawned:         "spawned",
	EvSpawnFailed:     "spawn-failed",
	EvExitRestart:     "exit-restart",
	EvExitDone:        "exit-done",
	EvExitFail:        "exit-fail",
	EvExitStopped:     "exit-stopped",
	EvBackoffElapsed:  "backoff-elapsed",
	EvStopTimeout:     "stop-timeout",
	EvCooldownElapsed: "cooldown-elapsed",
	EvGateClosed:      "gate-closed",
	EvDepsReady:       "deps-ready",
	EvReady:           "ready",
	EvReadyFailed:     "ready-failed",
	EvUnhealthy:       "unhealthy",
	EvRestart:         "restart",
	EvReconfigured:    "reconfigured",
	EvReplace:         "replace",
	EvNextReady:       "next-ready",
	EvNextFailed:      "next-failed",
}

// isCommand reports whether e is a person's (or the supervisor's) command
// rather than a fact about the run.
func (e Event) isCommand() bool { return e == EvStart || e == EvStop || e == EvRestart }

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
	EffForgetNotReady                    // a person's stop replaces a stop for a missed readiness deadline: the exit is a plain stop
	EffSpawnNext                         // start a replacement beside the running incarnation (its readiness comes back as EvNextReady or EvNextFailed)
	EffPromote                           // the replacement becomes the service's incarnation; the one it replaces is stopped (stop signal, SIGKILL after the stop timeout)
	EffDropNext                          // stop the replacement (stop signal, SIGKILL after the stop timeout): the running incarnation stays
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
	EffForgetNotReady:  "forget-not-ready",
	EffSpawnNext:       "spawn-next",
	EffPromote:         "promote",
	EffDropNext:        "drop-next",
}

func (e Effect) String() string {
	if n, ok := effectNames[e]; ok {
		return n
	}
	return fmt.Sprintf("Effect(%d)", uint8(e))
}

// Status is what the table decides on: the state, and whether the service is
// wanted up. Wanted is changed only by the table (a start, restart or reload
// wants it up, a stop wants it down) and read by it: a run that exits after a
// stop starts again only when wanted. Next is set while a start-first
// restart's replacement runs beside the running incarnation, waiting to be
// ready; only a running service has one.
type Status struct {
	State  State
	Wanted bool
	Next   bool
}

// Want is what a cell does to Status.Wanted.
type Want uint8

// The changes a cell makes to Wanted.
const (
	WantKeep Want = iota // leave it
	WantUp               // wanted up
	WantDown             // wanted down
)

// step is one cell of the table; down, when set, replaces it for a service
// that is not wanted up.
type step struct {
	to      State
	want    Want
	effects []Effect
	down    *step
}

// replacingStep is a cell of a running service with a replacement beside
// it; keep says the replacement is still there after it.
type replacingStep struct {
	step
	keep bool
}

// table holds every defined (state, event) pair. A pair missing from it means the
// event does not apply in that state (a stale fact) and is ignored: the status
// stays and nothing is done. Next's tests walk every pair, wanted or not.
var table = map[State]map[Event]step{
	Stopped: {
		EvStart:   {Starting, WantUp, []Effect{EffResetHistory, EffSpawn}, nil},
		EvRestart: {Starting, WantUp, []Effect{EffResetHistory, EffSpawn}, nil},
		EvStop:    {Stopped, WantDown, nil, nil},
	},
	Starting: {
		EvStart:       {Starting, WantUp, nil, nil},
		EvSpawned:     {Running, WantKeep, []Effect{EffWatch}, nil},
		EvSpawnFailed: {Failed, WantKeep, nil, nil},
		EvGateClosed:  {Waiting, WantKeep, nil, nil},
		EvReady:       {Running, WantKeep, []Effect{EffWatch}, nil},
		// Not ready in time: stopped like any stop (stop signal, SIGKILL
		// after the stop timeout); its exit then counts as a failed start.
		EvReadyFailed: {Stopping, WantKeep, []Effect{EffMarkReadyFailed, EffSignalStop}, nil},
		EvStop:        {Stopping, WantDown, []Effect{EffSignalStop}, nil},
		// Restarted: stopped, and its exit, wanted up, starts the next run.
		EvRestart:      {Stopping, WantUp, []Effect{EffSignalStop}, nil},
		EvReconfigured: {Stopping, WantUp, []Effect{EffSignalStop}, nil},
		EvExitRestart:  {Backoff, WantKeep, []Effect{EffKillTree, EffArmBackoff}, nil},
		EvExitDone:     {Exited, WantKeep, []Effect{EffKillTree, EffClearError}, nil},
		EvExitFail:     {Failed, WantKeep, []Effect{EffKillTree, EffArmCooldown}, nil},
	},
	Running: {
		EvStart:        {Running, WantUp, nil, nil},
		EvStop:         {Stopping, WantDown, []Effect{EffSignalStop}, nil},
		EvRestart:      {Stopping, WantUp, []Effect{EffSignalStop}, nil},
		EvReconfigured: {Stopping, WantUp, []Effect{EffSignalStop}, nil},
		EvUnhealthy:    {Stopping, WantKeep, []Effect{EffSignalStop}, nil},
		EvExitRestart:  {Backoff, WantKeep, []Effect{EffKillTree, EffArmBackoff}, nil},
		EvExitDone:     {Exited, WantKeep, []Effect{EffKillTree, EffClearError}, nil},
		EvExitFail:     {Failed, WantKeep, []Effect{EffKillTree, EffArmCooldown}, nil},
		// Start-first: the replacement starts; the running incarnation
		// serves until it is ready.
		// (Next is set after this cell.)
		EvReplace: {Running, WantUp, []Effect{EffSpawnNext}, nil},
	},
	Backoff: {
		EvBackoffElapsed: {Starting, WantKeep, []Effect{EffSpawn}, nil},
		EvStart:          {Starting, WantUp, []Effect{EffCancelTimer, EffResetHistory, EffSpawn}, nil},
		EvRestart:        {Starting, WantUp, []Effect{EffCancelTimer, EffResetHistory, EffSpawn}, nil},
		EvReconfigured:   {Starting, WantUp, []Effect{EffCancelTimer, EffResetHistory, EffSpawn}, nil},
		EvStop:           {Stopped, WantDown, []Effect{EffCancelTimer}, nil},
	},
	Stopping: {
		// A command while the stop is under way changes only what follows it.
		EvStart:   {Stopping, WantUp, nil, nil},
		EvRestart: {Stopping, WantUp, nil, nil},
		EvStop:    {Stopping, WantDown, []Effect{EffForgetNotReady}, nil},
		// Stopped: wanted up (a restart, a reload), the next run starts;
		// wanted down, it rests.
		EvExitStopped: {Starting, WantKeep, []Effect{EffCancelTimer, EffKillTree, EffAwaitTreeGone, EffResetHistory, EffSpawn},
			&step{Stopped, WantKeep, []Effect{EffCancelTimer, EffKillTree, EffAwaitTreeGone, EffClearError}, nil}},
		EvStopTimeout: {Stopping, WantKeep, []Effect{EffKillTree}, nil},
		// The exit of a run stopped because it was not ready in time: the
		// restart policy decides, as for any failed start.
		EvExitRestart: {Backoff, WantKeep, []Effect{EffCancelTimer, EffKillTree, EffArmBackoff}, nil},
		EvExitDone:    {Exited, WantKeep, []Effect{EffCancelTimer, EffKillTree, EffClearError}, nil},
		EvExitFail:    {Failed, WantKeep, []Effect{EffCancelTimer, EffKillTree, EffArmCooldown}, nil},
	},
	Exited: {
		EvStart:   {Starting, WantUp, []Effect{EffResetHistory, EffSpawn}, nil},
		EvRestart: {Starting, WantUp, []Effect{EffResetHistory, EffSpawn}, nil},
		EvStop:    {Stopped, WantDown, nil, nil},
	},
	Failed: {
		EvStart:           {Starting, WantUp, []Effect{EffCancelTimer, EffResetHistory, EffSpawn}, nil},
		EvRestart:         {Starting, WantUp, []Effect{EffCancelTimer, EffResetHistory, EffSpawn}, nil},
		EvReconfigured:    {Starting, WantUp, []Effect{EffCancelTimer, EffResetHistory, EffSpawn}, nil},
		EvStop:            {Stopped, WantDown, []Effect{EffCancelTimer}, nil},
		EvCooldownElapsed: {Starting, WantKeep, []Effect{EffResetHistory, EffSpawn}, nil},
	},
	Waiting: {
		EvStart:     {Starting, WantUp, []Effect{EffSpawn}, nil},
		EvRestart:   {Starting, WantUp, []Effect{EffSpawn}, nil},
		EvDepsReady: {Starting, WantKeep, []Effect{EffSpawn}, nil},
		EvStop:      {Stopped, WantDown, nil, nil},
	},
}

// replacing holds the cells of a running service with a replacement beside
// it (Status.Next). Whatever ends the running incarnation's run ends the
// replacement first; a stop or a stop-first restart stops both.
var replacing = map[Event]replacingStep{
	EvStart:   {step{Running, WantUp, nil, nil}, true},
	EvReplace: {step{Running, WantUp, nil, nil}, true},
	// Ready: it takes over, and the liveness checks follow it.
	EvNextReady:  {step{Running, WantKeep, []Effect{EffPromote, EffWatch}, nil}, false},
	EvNextFailed: {step{Running, WantKeep, []Effect{EffDropNext}, nil}, false},

	EvStop:         {step{Stopping, WantDown, []Effect{EffDropNext, EffSignalStop}, nil}, false},
	EvRestart:      {step{Stopping, WantUp, []Effect{EffDropNext, EffSignalStop}, nil}, false},
	EvReconfigured: {step{Stopping, WantUp, []Effect{EffDropNext, EffSignalStop}, nil}, false},
	EvUnhealthy:    {step{Stopping, WantKeep, []Effect{EffDropNext, EffSignalStop}, nil}, false},
	EvExitRestart:  {step{Backoff, WantKeep, []Effect{EffDropNext, EffKillTree, EffArmBackoff}, nil}, false},
	EvExitDone:     {step{Exited, WantKeep, []Effect{EffDropNext, EffKillTree, EffClearError}, nil}, false},
	EvExitFail:     {step{Failed, WantKeep, []Effect{EffDropNext, EffKillTree, EffArmCooldown}, nil}, false},
}

// Next is the transition function: pure, total, and the only place that decides
// which status follows which. ok is false when the event does not apply in s.
func Next(s Status, e Event) (to Status, effects []Effect, ok bool) {
	var st step
	next := false
	switch {
	case s.Next && s.State == Running:
		var rs replacingStep
		rs, ok = replacing[e]
		st, next = rs.step, rs.keep
	default:
		st, ok = table[s.State][e]
		next = ok && s.State == Running && e == EvReplace
	}
	if !ok {
		return s, nil, false
	}
	if st.down != nil && !s.Wanted {
		st = *st.down
	}
	to = Status{State: st.to, Wanted: s.Wanted, Next: next}
	switch st.want {
	case WantUp:
		to.Wanted = true
	case WantDown:
		to.Wanted = false
	}
	return to, st.effects, true
}
