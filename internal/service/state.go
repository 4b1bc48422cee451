// Package service runs one service: its state machine, its actor loop and its snapshots.
package service

import "fmt"

// State is what a service is doing now.
type State uint8

// The states, as SPEC.md names them.
const (
	Stopped  State = iota // not running and not wanted
	Starting              // spawned, not ready yet
	Running               // up (and ready)
	Backoff               // failed, waiting to retry
	Stopping              // stop signal sent, waiting for the exit
	Exited                // finished and not to be restarted
	Failed                // gave up: start limit reached or spawn error
	Waiting               // held until what it depends on is ready
	numStates
)

var stateNames = [numStates]string{
	Stopped:  "stopped",
	Starting: "starting",
	Running:  "running",
	Backoff:  "backoff",
	Stopping: "stopping",
	Exited:   "exited",
	Failed:   "failed",
	Waiting:  "waiting",
}

// AllStates returns every state, in the order of their values.
func AllStates() []State {
	out := make([]State, numStates)
	for i := range out {
		out[i] = State(i)
	}
	return out
}

func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText renders the state name, so JSON carries "running" rather than a number.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a state name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown state %q", b)
}

// Up reports whether a process of the service may be alive in this state.
func (s State) Up() bool { return s == Starting || s == Running || s == Stopping }
