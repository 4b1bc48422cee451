package service

import (
	"fmt"
	"strings"
	"testing"
)

// want lists every defined cell as "state event -> state effects". Every pair not
// listed must be ignored. Written apart from the table on purpose: a change to one
// must be made to the other.
var want = `
stopped start -> starting reset-history,spawn
stopped restart -> starting reset-history,spawn
starting spawned -> running watch
starting spawn-failed -> failed
starting gate-closed -> waiting
starting ready -> running watch
starting ready-failed -> stopping mark-ready-failed,signal-stop
starting stop -> stopping signal-stop
starting restart -> stopping signal-stop
starting reconfigured -> stopping signal-stop
starting exit-restart -> backoff kill-tree,arm-backoff
starting exit-done -> exited kill-tree,clear-error
starting exit-fail -> failed kill-tree,arm-cooldown
running stop -> stopping signal-stop
running restart -> stopping signal-stop
running reconfigured -> stopping signal-stop
running unhealthy -> stopping signal-stop
running exit-restart -> backoff kill-tree,arm-backoff
running exit-done -> exited kill-tree,clear-error
running exit-fail -> failed kill-tree,arm-cooldown
backoff backoff-elapsed -> starting spawn
backoff start -> starting cancel-timer,reset-history,spawn
backoff restart -> starting cancel-timer,reset-history,spawn
backoff reconfigured -> starting cancel-timer,reset-history,spawn
backoff stop -> stopped cancel-timer
stopping exit-stopped -> stopped cancel-timer,kill-tree,await-tree-gone,clear-error
stopping exit-stopped-start -> starting cancel-timer,kill-tree,await-tree-gone,reset-history,spawn
stopping stop-timeout -> stopping kill-tree
stopping exit-restart -> backoff cancel-timer,kill-tree,arm-backoff
stopping exit-done -> exited cancel-timer,kill-tree,clear-error
stopping exit-fail -> failed cancel-timer,kill-tree,arm-cooldown
exited start -> starting reset-history,spawn
exited restart -> starting reset-history,spawn
exited stop -> stopped
failed start -> starting cancel-timer,reset-history,spawn
failed restart -> starting cancel-timer,reset-history,spawn
failed reconfigured -> starting cancel-timer,reset-history,spawn
failed stop -> stopped cancel-timer
failed cooldown-elapsed -> starting reset-history,spawn
waiting start -> starting spawn
waiting restart -> starting spawn
waiting deps-ready -> starting spawn
waiting stop -> stopped
`

func TestNextEveryPair(t *testing.T) {
	expected := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(want), "\n") {
		lhs, rhs, _ := strings.Cut(line, " -> ")
		expected[lhs] = rhs
	}
	seen := 0
	for s := State(0); s < numStates; s++ {
		for e := Event(0); e < numEvents; e++ {
			key := s.String() + " " + e.String()
			to, effects, ok := Next(s, e)
			exp, defined := expected[key]
			if !defined {
				if ok || to != s || effects != nil {
					t.Errorf("%s: want ignored, got %s %v ok=%v", key, to, effects, ok)
				}
				continue
			}
			seen++
			if !ok {
				t.Errorf("%s: want %q, got ignored", key, exp)
				continue
			}
			if got := render(to, effects); got != exp {
				t.Errorf("%s: want %q, got %q", key, exp, got)
			}
		}
	}
	if seen != len(expected) {
		t.Errorf("expectations name %d pairs, %d exist", len(expected), seen)
	}
}

func render(to State, effects []Effect) string {
	names := make([]string, len(effects))
	for i, e := range effects {
		names[i] = e.String()
	}
	return strings.TrimSpace(to.String() + " " + strings.Join(names, ","))
}

// Invariants that hold for the whole table, whatever its cells.
func TestTableInvariants(t *testing.T) {
	for s := State(0); s < numStates; s++ {
		for e := Event(0); e < numEvents; e++ {
			to, effects, ok := Next(s, e)
			if !ok {
				continue
			}
			has := func(x Effect) bool {
				for _, f := range effects {
					if f == x {
						return true
					}
				}
				return false
			}
			where := fmt.Sprintf("%s+%s", s, e)
			// A spawn's outcome is always fed back from Starting.
			if has(EffSpawn) && to != Starting {
				t.Errorf("%s: spawns but goes to %s", where, to)
			}
			// Entering Stopping from elsewhere always signals.
			if to == Stopping && s != Stopping && !has(EffSignalStop) {
				t.Errorf("%s: enters stopping without a stop signal", where)
			}
			// Leaving a state with a live process on an exit always kills what is left.
			isExit := e == EvExitRestart || e == EvExitDone || e == EvExitFail || e == EvExitStopped
			if s.Up() && !to.Up() && isExit && !has(EffKillTree) {
				t.Errorf("%s: leaves %s for %s without killing the tree", where, s, to)
			}
			// A state that holds a timer cancels it when left by a command.
			if (s == Backoff || s == Failed) && (e == EvStart || e == EvStop) && !has(EffCancelTimer) {
				t.Errorf("%s: leaves a pending timer armed", where)
			}
		}
	}
}

func TestStateText(t *testing.T) {
	for s := State(0); s < numStates; s++ {
		b, _ := s.MarshalText()
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("round trip %s: got %s, %v", s, back, err)
		}
	}
	var x State
	if err := x.UnmarshalText([]byte("bogus")); err == nil {
		t.Error("bogus state parsed")
	}
	if got := State(200).String(); got != "State(200)" {
		t.Errorf("out of range: %s", got)
	}
}
