package keeper

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// Restart pacing, hang detection and the upgrade deadline in fake time: a
// small loop drives coreNext with the keeper's own decisions (afterExit,
// restartDelay, silentTooLong, pingEvery) and timers, against simulated
// cores. In a synctest bubble the clock only moves when every goroutine
// waits, so the times checked are exact. The real loop, with real cores,
// is covered by the helper-process tests (corelife_linux_test.go).

// simCore is how a simulated core behaves, from its start.
type simCore struct {
	readyAfter time.Duration // when it says ready; < 0: never
	dieAfter   time.Duration // when it exits by itself; < 0: never
	muteAfter  time.Duration // from then on it answers no ping; < 0: always answers
}

// simLoop is the keeper's loop reduced to its decisions and timers.
type simLoop struct {
	t       *testing.T
	timeout time.Duration
	cores   func(n int) simCore
	start   time.Time

	st       coreState
	n        int // cores started
	core     simCore
	born     time.Time
	lastPong time.Time
	ready    bool // the current core was ready
	fails    int
	crashes  []time.Time
	ticker   *time.Ticker
	gen      int // the current core's number: timers of an earlier one are dropped

	spawns []time.Duration // when each core started, since start
	ends   []string        // "AT EVENT" of each end the keeper caused
	endAt  []time.Duration // when, since start
	steps  []exitStep      // what followed the last end
}

// simEvent is an event for core gen.
type simEvent struct {
	gen int
	e   coreEvent
}

func newSim(t *testing.T, timeout time.Duration, st coreState, cores func(n int) simCore) *simLoop {
	return &simLoop{t: t, timeout: timeout, cores: cores, st: st, start: time.Now()}
}

// after sends e after d, if the core is still core gen by then.
func (s *simLoop) after(d time.Duration, gen int, e coreEvent, out chan<- simEvent) {
	time.AfterFunc(d, func() { out <- simEvent{gen, e} })
}

// run drives the loop until the keeper would exit or until is reached.
func (s *simLoop) run(until time.Duration) {
	in := make(chan simEvent, 64)
	if s.st.probation {
		// A resumed keeper arms the upgrade's deadline (see run).
		s.after(upgradeReady, 0, ceUpgradeDue, in)
	}
	s.apply(ceRestartDue, in)
	deadline := time.After(until)
	for {
		var tick <-chan time.Time
		if s.ticker != nil {
			tick = s.ticker.C
		}
		select {
		case ev := <-in:
			if ev.gen != s.gen && ev.gen != 0 {
				continue
			}
			if s.apply(ev.e, in) {
				return
			}
		case <-tick:
			e := ceTick
			if hung, _ := silentTooLong(s.lastPong, time.Now(), s.timeout); hung {
				e = ceSilent
			}
			if s.apply(e, in) {
				return
			}
		case <-deadline:
			return
		}
	}
}

// apply steps the table and simulates the effects; true: the keeper exits.
func (s *simLoop) apply(e coreEvent, in chan simEvent) bool {
	to, effs, ok := coreNext(s.st, e)
	if !ok {
		return false
	}
	s.st = to
	now := time.Since(s.start)
	for _, f := range effs {
		switch f {
		case efSpawn:
			s.n++
			s.gen = s.n
			s.core, s.born, s.ready = s.cores(s.n), time.Now(), false
			s.spawns = append(s.spawns, now)
			s.st, _, _ = coreNext(s.st, ceSpawned)
			s.after(s.timeout, s.gen, ceStartDue, in)
			s.after(time.Millisecond, s.gen, ceConnected, in)
			if s.core.readyAfter >= 0 {
				s.after(s.core.readyAfter, s.gen, ceReady, in)
			}
			if s.core.dieAfter >= 0 {
				s.after(s.core.dieAfter, s.gen, ceExit, in)
			}
		case efServe:
			s.lastPong = time.Now()
			s.ticker = time.NewTicker(pingEvery(s.timeout, 0))
		case efMarkReady:
			s.ready, s.fails = true, 0
		case efPing:
			if s.core.muteAfter < 0 || time.Since(s.born) < s.core.muteAfter {
				s.after(time.Millisecond, s.gen, cePong, in)
			}
		case efNotePong:
			s.lastPong = time.Now()
		case efAbort, efKill:
			s.ends = append(s.ends, fmt.Sprintf("%v %v", now, e))
			s.endAt = append(s.endAt, now)
			// The runtime's dump, or SIGKILL, ends it a moment later.
			s.after(time.Millisecond, s.gen, ceExit, in)
		case efAwaitSocket:
			// The socket closes with the process.
			s.after(0, s.gen, ceConnGone, in)
		case efDropConn:
			if s.ticker != nil {
				s.ticker.Stop()
				s.ticker = nil
			}
		case efEnded:
			s.steps = afterExit(exitFacts{upgradeUnready: s.st.probation && !s.ready, stopping: s.st.stopping})
			if slices.Contains(s.steps, stepRollback) {
				return true // the exec replaces the keeper
			}
			if !s.ready {
				s.fails++
			}
			var delay time.Duration
			delay, s.crashes = restartDelay(s.fails, s.crashes, time.Now())
			s.after(delay, 0, ceRestartDue, in)
		}
	}
	return false
}

// gaps returns the time between successive core starts.
func (s *simLoop) gaps() []time.Duration {
	var out []time.Duration
	for i := 1; i < len(s.spawns); i++ {
		out = append(out, s.spawns[i]-s.spawns[i-1])
	}
	return out
}

func TestPacingOfCoresThatDieBeforeReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, 30*time.Second, coreState{}, func(int) simCore {
			return simCore{readyAfter: -1, dieAfter: 10 * time.Millisecond, muteAfter: -1}
		})
		s.run(40 * time.Second)
		// Each start is 10ms of life plus the backoff: 100ms doubling to 10s.
		var got []time.Duration
		for _, g := range s.gaps() {
			got = append(got, g-10*time.Millisecond)
		}
		want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
			800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 6400 * time.Millisecond,
			10 * time.Second, 10 * time.Second}
		if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Errorf("backoffs %v, want %v first", got, want)
		}
	})
}

func TestPacingOfReadyCoresThatKeepCrashing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Ready after 5ms, dead after 20ms: restarted at once, until more
		// than crashBurst ends in crashWindow slow the restarts down.
		s := newSim(t, 30*time.Second, coreState{}, func(int) simCore {
			return simCore{readyAfter: 5 * time.Millisecond, dieAfter: 20 * time.Millisecond, muteAfter: -1}
		})
		s.run(20 * time.Second)
		gaps := s.gaps()
		if len(gaps) < crashBurst+2 {
			t.Fatalf("%d starts in 20s, want more than %d", len(gaps)+1, crashBurst+1)
		}
		for i, g := range gaps[:crashBurst] {
			if g != 20*time.Millisecond {
				t.Fatalf("gap %d: %v, want 20ms (a restart at once)", i, g)
			}
		}
		if g := gaps[crashBurst]; g != 20*time.Millisecond+restartMax/2 {
			t.Errorf("gap after %d crashes in a minute: %v, want 20ms + %v", crashBurst+1, g, restartMax/2)
		}
	})
}

func TestHangDetection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 10 * time.Second
		mute := 7 * time.Second
		s := newSim(t, timeout, coreState{}, func(n int) simCore {
			if n == 1 {
				return simCore{readyAfter: time.Second, dieAfter: -1, muteAfter: mute}
			}
			return simCore{readyAfter: time.Second, dieAfter: -1, muteAfter: -1}
		})
		s.run(time.Minute)
		if len(s.ends) != 1 || len(s.spawns) != 2 {
			t.Fatalf("ends %v, starts %v; want the first core ended once, then a second", s.ends, s.spawns)
		}
		at := s.endAt[0]
		// Its last pong answered the last ping before it went mute; it is
		// hung once that is more than the timeout ago, seen at a ping.
		every := pingEvery(timeout, 0)
		lastPong := (mute/every)*every + time.Millisecond + time.Millisecond
		if s.ends[0] != fmt.Sprintf("%v %v", at, ceSilent) || at <= lastPong+timeout || at > lastPong+timeout+every {
			t.Errorf("ended %q; want silent, after %v and by %v", s.ends[0], lastPong+timeout, lastPong+timeout+every)
		}
		// The next core starts at once (the first had been ready).
		if got := s.spawns[1] - at; got != time.Millisecond {
			t.Errorf("next core %v after the end, want 1ms (its exit)", got)
		}
	})
}

func TestACoreNeverConnectedIsEndedAtItsStartDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, 5*time.Second, coreState{}, func(n int) simCore {
			if n == 1 {
				return simCore{readyAfter: -1, dieAfter: -1, muteAfter: -1}
			}
			return simCore{readyAfter: time.Second, dieAfter: -1, muteAfter: -1}
		})
		s.run(time.Minute)
		if want := []string{"5s start-due"}; !slices.Equal(s.ends, want) {
			t.Errorf("ends %v, want %v", s.ends, want)
		}
		// Not ready: the next start backs off.
		if len(s.spawns) != 2 || s.spawns[1] != 5*time.Second+time.Millisecond+restartFirst {
			t.Errorf("starts %v, want the second at 5s + 1ms + %v", s.spawns, restartFirst)
		}
	})
}

func TestUpgradeRollbackDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The first core of an upgraded image never becomes ready: at
		// upgradeReady it is killed, and its end rolls the upgrade back.
		s := newSim(t, time.Hour, coreState{probation: true}, func(int) simCore {
			return simCore{readyAfter: -1, dieAfter: -1, muteAfter: -1}
		})
		s.run(time.Hour)
		if want := []string{fmt.Sprintf("%v upgrade-due", upgradeReady)}; !slices.Equal(s.ends, want) {
			t.Errorf("ends %v, want %v", s.ends, want)
		}
		if !slices.Equal(s.steps, []exitStep{stepRollback, stepRestart}) {
			t.Errorf("after the end: %v, want rollback then restart (if the rollback fails)", s.steps)
		}
	})
}
