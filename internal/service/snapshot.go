package service

import (
	"time"

	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/proc"
)

// Snapshot is an immutable picture of a service, published by its actor after
// every change. Readers never lock: they load the latest pointer.
type Snapshot struct {
	Name  string
	Kind  Kind
	State State
	// Since is when State was entered.
	Since time.Time
	// Wanted is the desired state: true when the service should be up.
	Wanted bool
	// Seq increases with every published snapshot; command replies carry the Seq
	// at which the command was applied so waiters can ignore older pictures.
	Seq uint64
	// Gen numbers incarnations: it grows with every successful spawn.
	Gen       uint64
	Pid       int
	StartedAt time.Time // of the current or last incarnation; zero before the first
	// Restarts counts starts made by the restart policy (not by a person).
	Restarts int
	// LastExit is the most recent exit, nil before the first.
	LastExit *proc.Exit
	// Exits holds the most recent exits, oldest first (at most maxExits).
	Exits []ExitRecord
	// Error is the reason the service is failed or backing off, empty otherwise.
	Error string
	// Health is healthy, unhealthy or unknown (no liveness check, or none yet).
	Health Health
	// WaitingOn says what a waiting service waits for.
	WaitingOn string
	// Blocked says that the wait is one nothing will end by itself: a
	// dependency failed for good, or is down and not wanted up.
	Blocked bool
	// NextRetryAt is when a pending backoff or cooldown timer fires; zero if none.
	NextRetryAt time.Time
	// Attempt is the number of consecutive failed runs counted by the policy.
	Attempt int
	// StartsInWindow counts the starts within the start limit's window.
	StartsInWindow int
	// ExitCounts counts exits by reason: success, failure, signal, stopped.
	ExitCounts  map[string]uint64
	Containment string
	// NextPid is the pid of a start-first restart's replacement while it
	// runs beside the incarnation, waiting to be ready; 0 when none does.
	NextPid int
}

// ExitRecord is one past run of the service.
type ExitRecord struct {
	Gen       uint64
	Pid       int
	StartedAt time.Time
	Exit      proc.Exit
	// OOM is set when the kernel's OOM killer ended the run (where detectable).
	OOM bool
	// Decision is what the policy made of the exit ("restart in 200ms", "start limit reached", ...).
	Decision string
	// LastLines are the last lines the run printed, once its output is drained.
	LastLines []logs.Line
}

// maxExits bounds the exit history kept per service.
const maxExits = 10

// Uptime is how long the current incarnation has been up, 0 when not up.
func (s Snapshot) Uptime(now time.Time) time.Duration {
	if !s.State.Up() || s.StartedAt.IsZero() {
		return 0
	}
	return now.Sub(s.StartedAt)
}

// Wait is what a service held by its gate waits for.
type Wait struct {
	// On says what, in words: "waiting for db to be ready (it is starting)".
	On string
	// Blocked says that nothing will end the wait by itself.
	Blocked bool
}
