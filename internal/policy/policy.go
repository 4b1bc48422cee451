// Package policy decides whether and when a service that stopped is started again.
package policy

import "time"

// Mode is a restart policy.
type Mode int

// The restart policies.
const (
	Always Mode = iota
	OnFailure
	Never
)

// Params are one service's restart settings, as the config gives them.
type Params struct {
	Mode         Mode
	SuccessCodes []int // exit codes counted as success; empty means [0]
	Initial      time.Duration
	Max          time.Duration
	Factor       float64
	Jitter       float64 // fraction in [0,1]: the delay is drawn from [d*(1-j), d*(1+j)], capped at Max
	ResetAfter   time.Duration
	Burst        int           // at most Burst starts within any Window; <= 0 means no limit
	Window       time.Duration // sliding window for Burst
	Cooldown     time.Duration // 0: stay failed until a person acts
}

// Exit describes how one run of a service ended.
type Exit struct {
	Code   int // exit code when Signal == 0
	Signal int // terminating signal number, 0 if it exited normally
}

// Action is what the supervisor must do after an exit.
type Action int

// The actions Decide can return.
const (
	// Restart: start the service again after Decision.Delay.
	Restart Action = iota
	// Done: the service finished and is not restarted (state exited).
	Done
	// Fail: give up (state failed); retry after Decision.Delay if Cooldown > 0,
	// otherwise Decision.Delay is 0 and the service stays failed.
	Fail
)

// Decision is the outcome of Decide.
type Decision struct {
	Action Action
	Delay  time.Duration
	// Reason is a short human text naming the exit and its consequence, e.g.
	// "exit status 1, restart 3 in 400ms" or "signal 9, start limit reached: 4 starts within 5m0s".
	Reason string
}

// History is the restart bookkeeping of one service. The zero value is ready to use.
// It is a value owned by the service's actor; policy functions never keep it.
type History struct {
	// Starts holds the times of the recent starts, oldest first, trimmed to Window.
	Starts []time.Time
	// Attempt is the number of consecutive failed runs since the last reset (0 after a reset).
	Attempt int
}
