package service

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// want lists every defined cell as "state/wanted event -> state/wanted effects".
// On the left, wanted is up, down or * (either); on the right, up, down or =
// (as it was). "running+next" is a running service with a start-first
// replacement beside it (Status.Next). Every pair not listed must be ignored.
// Written apart from the table on purpose: a change to one must be made to
// the other.
var want = `
stopped/* start -> starting/up reset-history,spawn
stopped/* restart -> starting/up reset-history,spawn
stopped/* stop -> stopped/down
starting/* start -> starting/up
starting/* spawned -> running/= watch
starting/* spawn-failed -> failed/=
starting/* gate-closed -> waiting/=
starting/* ready -> running/= watch
starting/* ready-failed -> stopping/= mark-ready-failed,signal-stop
starting/* stop -> stopping/down signal-stop
starting/* restart -> stopping/up signal-stop
starting/* reconfigured -> stopping/up signal-stop
starting/* exit-restart -> backoff/= kill-tree,arm-backoff
starting/* exit-done -> exited/= kill-tree,clear-error
starting/* exit-fail -> failed/= kill-tree,arm-cooldown
running/* start -> running/up
running/* stop -> stopping/down signal-stop
running/* restart -> stopping/up signal-stop
running/* reconfigured -> stopping/up signal-stop
running/* unhealthy -> stopping/= signal-stop
running/* exit-restart -> backoff/= kill-tree,arm-backoff
running/* exit-done -> exited/= kill-tree,clear-error
running/* exit-fail -> failed/= kill-tree,arm-cooldown
running/* replace -> running+next/up spawn-next
running+next/* start -> running+next/up
running+next/* replace -> running+next/up
running+next/* next-ready -> running/= promote,watch
running+next/* next-failed -> running/= drop-next
running+next/* stop -> stopping/down drop-next,signal-stop
running+next/* restart -> stopping/up drop-next,signal-stop
running+next/* reconfigured -> stopping/up drop-next,signal-stop
running+next/* unhealthy -> stopping/= drop-next,signal-stop
running+next/* exit-restart -> backoff/= drop-next,kill-tree,arm-backoff
running+next/* exit-done -> exited/= drop-next,kill-tree,clear-error
running+next/* exit-fail -> failed/= drop-next,kill-tree,arm-cooldown
backoff/* backoff-elapsed -> starting/= spawn
backoff/* start -> starting/up cancel-timer,reset-history,spawn
backoff/* restart -> starting/up cancel-timer,reset-history,spawn
backoff/* reconfigured -> starting/up cancel-timer,reset-history,spawn
backoff/* stop -> stopped/down cancel-timer
stopping/* start -> stopping/up
stopping/* restart -> stopping/up
stopping/* stop -> stopping/down forget-not-ready
stopping/down exit-stopped -> stopped/down cancel-timer,kill-tree,await-tree-gone,clear-error
stopping/up exit-stopped -> starting/up cancel-timer,kill-tree,await-tree-gone,reset-history,spawn
stopping/* stop-timeout -> stopping/= kill-tree
stopping/* exit-restart -> backoff/= cancel-timer,kill-tree,arm-backoff
stopping/* exit-done -> exited/= cancel-timer,kill-tree,clear-error
stopping/* exit-fail -> failed/= cancel-timer,kill-tree,arm-cooldown
exited/* start -> starting/up reset-history,spawn
exited/* restart -> starting/up reset-history,spawn
exited/* stop -> stopped/down
failed/* start -> starting/up cancel-timer,reset-history,spawn
failed/* restart -> starting/up cancel-timer,reset-history,spawn
failed/* reconfigured -> starting/up cancel-timer,reset-history,spawn
failed/* stop -> stopped/down cancel-timer
failed/* cooldown-elapsed -> starting/= reset-history,spawn
waiting/* start -> starting/up spawn
waiting/* restart -> starting/up spawn
waiting/* deps-ready -> starting/= spawn
waiting/* stop -> stopped/down
`

// expectations expands want into one entry per (state, wanted, event).
func expectations(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(want), "\n") {
		lhs, rhs, _ := strings.Cut(line, " -> ")
		from, ev, _ := strings.Cut(lhs, " ")
		state, w, _ := strings.Cut(from, "/")
		ws := []string{w}
		if w == "*" {
			ws = []string{"down", "up"}
		}
		for _, w := range ws {
			r := strings.Replace(rhs, "/=", "/"+w, 1)
			key := state + "/" + w + " " + ev
			if _, dup := out[key]; dup {
				t.Fatalf("%s listed twice", key)
			}
			out[key] = r
		}
	}
	return out
}

func wantedName(w bool) string {
	if w {
		return "up"
	}
	return "down"
}

// statuses lists every Status the table can be in: each state, wanted or
// not, and a running one with a replacement beside it.
func statuses() []Status {
	var out []Status
	for s := State(0); s < numStates; s++ {
		for _, w := range []bool{false, true} {
			out = append(out, Status{State: s, Wanted: w})
			if s == Running {
				out = append(out, Status{State: s, Wanted: w, Next: true})
			}
		}
	}
	return out
}

func statusName(s Status) string {
	n := s.State.String()
	if s.Next {
		n += "+next"
	}
	return n
}

func TestNextEveryPair(t *testing.T) {
	expected := expectations(t)
	seen := 0
	for _, from := range statuses() {
		{
			w := from.Wanted
			for e := Event(0); e < numEvents; e++ {
				key := statusName(from) + "/" + wantedName(w) + " " + e.String()
				to, effects, ok := Next(from, e)
				exp, defined := expected[key]
				if !defined {
					if ok || to != from || effects != nil {
						t.Errorf("%s: want ignored, got %s %v ok=%v", key, render(to, effects), effects, ok)
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
	}
	if seen != len(expected) {
		t.Errorf("expectations name %d pairs, %d exist", len(expected), seen)
	}
}

func render(to Status, effects []Effect) string {
	names := make([]string, len(effects))
	for i, e := range effects {
		names[i] = e.String()
	}
	return strings.TrimSpace(statusName(to) + "/" + wantedName(to.Wanted) + " " + strings.Join(names, ","))
}

// Invariants that hold for the whole table, whatever its cells.
func TestTableInvariants(t *testing.T) {
	for _, from := range statuses() {
		for e := Event(0); e < numEvents; e++ {
			invariants(t, from, e)
		}
	}
}

func invariants(t *testing.T, from Status, e Event) {
	t.Helper()
	s := from.State
	next, effects, ok := Next(from, e)
	if !ok {
		return
	}
	to := next.State
	has := func(x Effect) bool { return slices.Contains(effects, x) }
	where := fmt.Sprintf("%s/%s+%s", statusName(from), wantedName(from.Wanted), e)
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
	// Only a running service has a replacement; leaving running, or a
	// replacement's end, drops it (or promotes it).
	if next.Next && to != Running {
		t.Errorf("%s: a replacement beside %s", where, to)
	}
	if from.Next && !next.Next && !has(EffDropNext) && !has(EffPromote) {
		t.Errorf("%s: the replacement is forgotten, neither dropped nor promoted", where)
	}
	if has(EffSpawnNext) && (!next.Next || from.Next) {
		t.Errorf("%s: spawns a replacement without marking it, or a second one", where)
	}
	// A person's start or restart always leaves it wanted up, a stop down.
	if (e == EvStart || e == EvRestart || e == EvReplace) && !next.Wanted || e == EvStop && next.Wanted {
		t.Errorf("%s: command leaves wanted %v", where, next.Wanted)
	}
	// Only commands and reloads change wanted.
	if next.Wanted != from.Wanted && !e.isCommand() && e != EvReconfigured && e != EvReplace {
		t.Errorf("%s: a fact changed wanted", where)
	}
	// A service not wanted up is never spawned by a fact (a timer, an exit).
	if has(EffSpawn) && !next.Wanted && !e.isCommand() && e != EvReconfigured &&
		e != EvBackoffElapsed && e != EvCooldownElapsed && e != EvDepsReady {
		t.Errorf("%s: spawns a service not wanted up", where)
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
