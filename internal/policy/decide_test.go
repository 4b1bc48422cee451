package policy

import (
	"testing"
	"time"
)

var (
	failed  = Exit{Code: 1}
	success = Exit{Code: 0}
	killed  = Exit{Signal: 9}
)

// crashy restarts on failure with a doubling backoff and no start limit.
var crashy = Params{Mode: OnFailure, Initial: 100 * time.Millisecond, Max: 5 * time.Second, Factor: 2}

func with(p Params, change func(*Params)) Params {
	change(&p)
	return p
}

func TestIsSuccess(t *testing.T) {
	codes := Params{SuccessCodes: []int{0, 3}}
	tests := []struct {
		name string
		p    Params
		e    Exit
		want bool
	}{
		{"zero by default", Params{}, success, true},
		{"one by default", Params{}, failed, false},
		{"signal by default", Params{}, killed, false},
		{"signal with code zero", Params{}, Exit{Code: 0, Signal: 15}, false},
		{"listed zero", codes, success, true},
		{"listed three", codes, Exit{Code: 3}, true},
		{"unlisted one", codes, failed, false},
		{"signal with listed code", codes, Exit{Code: 3, Signal: 9}, false},
		{"zero not listed", Params{SuccessCodes: []int{2}}, success, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.IsSuccess(tt.e); got != tt.want {
				t.Errorf("IsSuccess(%v) = %v, want %v", tt.e, got, tt.want)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	limited := with(crashy, func(p *Params) { p.Burst, p.Window = 2, time.Minute })
	tests := []struct {
		name        string
		p           Params
		h           History
		e           Exit
		ran         time.Duration
		want        Decision
		wantAttempt int
	}{
		{"never after failure", with(crashy, func(p *Params) { p.Mode = Never }), History{}, failed, time.Second,
			Decision{Done, 0, "exit status 1, restart policy never"}, 0},
		{"never after success", with(crashy, func(p *Params) { p.Mode = Never }), History{}, success, time.Second,
			Decision{Done, 0, "exit status 0, restart policy never"}, 0},
		{"never after signal", with(crashy, func(p *Params) { p.Mode = Never }), History{}, killed, time.Second,
			Decision{Done, 0, "signal 9, restart policy never"}, 0},
		{"on-failure after success", crashy, History{Attempt: 2}, success, time.Second,
			Decision{Done, 0, "exit status 0, exited successfully"}, 2},
		{"on-failure after failure", crashy, History{}, failed, time.Second,
			Decision{Restart, 100 * time.Millisecond, "exit status 1, restart 1 in 100ms"}, 1},
		{"on-failure after signal", crashy, History{}, killed, time.Second,
			Decision{Restart, 100 * time.Millisecond, "signal 9, restart 1 in 100ms"}, 1},
		{"on-failure with listed code", with(crashy, func(p *Params) { p.SuccessCodes = []int{0, 3} }), History{}, Exit{Code: 3}, time.Second,
			Decision{Done, 0, "exit status 3, exited successfully"}, 0},
		{"on-failure with unlisted code", with(crashy, func(p *Params) { p.SuccessCodes = []int{0, 3} }), History{}, Exit{Code: 2}, time.Second,
			Decision{Restart, 100 * time.Millisecond, "exit status 2, restart 1 in 100ms"}, 1},
		{"always after success", with(crashy, func(p *Params) { p.Mode = Always }), History{Attempt: 2}, success, time.Second,
			Decision{Restart, 400 * time.Millisecond, "exit status 0, restart 3 in 400ms"}, 3},
		{"unknown mode", with(crashy, func(p *Params) { p.Mode = 7 }), History{}, failed, time.Second,
			Decision{Fail, 0, "exit status 1, unknown restart policy 7"}, 0},
		{"backoff continues", crashy, History{Attempt: 3}, failed, time.Second,
			Decision{Restart, 800 * time.Millisecond, "exit status 1, restart 4 in 800ms"}, 4},
		{"backoff capped", crashy, History{Attempt: 30}, failed, time.Second,
			Decision{Restart, 5 * time.Second, "exit status 1, restart 31 in 5s"}, 31},
		{"short run keeps backoff", with(crashy, func(p *Params) { p.ResetAfter = 30 * time.Second }), History{Attempt: 3}, failed, 30*time.Second - 1,
			Decision{Restart, 800 * time.Millisecond, "exit status 1, restart 4 in 800ms"}, 4},
		{"long run resets backoff", with(crashy, func(p *Params) { p.ResetAfter = 30 * time.Second }), History{Attempt: 3}, failed, 30 * time.Second,
			Decision{Restart, 100 * time.Millisecond, "exit status 1, restart 1 in 100ms"}, 1},
		{"long run resets before success", with(crashy, func(p *Params) { p.ResetAfter = 30 * time.Second }), History{Attempt: 3}, success, time.Hour,
			Decision{Done, 0, "exit status 0, exited successfully"}, 0},
		{"no reset when reset_after is zero", crashy, History{Attempt: 3}, failed, time.Hour,
			Decision{Restart, 800 * time.Millisecond, "exit status 1, restart 4 in 800ms"}, 4},
		{"under the limit", limited, History{Starts: at(-1)}, failed, time.Second,
			Decision{Restart, 100 * time.Millisecond, "exit status 1, restart 1 in 100ms"}, 1},
		{"limit reached, no cooldown", limited, History{Starts: at(-1, 0)}, failed, time.Second,
			Decision{Fail, 0, "exit status 1, start limit reached: 2 starts within 1m0s"}, 1},
		{"limit reached, cooldown", with(limited, func(p *Params) { p.Cooldown = 5 * time.Minute }), History{Starts: at(-1, 0)}, failed, time.Second,
			Decision{Fail, 5 * time.Minute, "exit status 1, start limit reached: 2 starts within 1m0s, retry in 5m0s"}, 1},
		{"negative cooldown is none", with(limited, func(p *Params) { p.Cooldown = -time.Second }), History{Starts: at(-1, 0)}, failed, time.Second,
			Decision{Fail, 0, "exit status 1, start limit reached: 2 starts within 1m0s"}, 1},
		// The run ends at t0+1s and the restart would come 100ms later, at t0+1.1s;
		// the window (t0-58.9s, t0+1.1s] no longer holds the start at t0-59s.
		{"start slides out during the delay", limited, History{Starts: at(-59, 0)}, failed, time.Second,
			Decision{Restart, 100 * time.Millisecond, "exit status 1, restart 1 in 100ms"}, 1},
		{"start on the window's open edge does not count", limited, History{Starts: at(-58.9, 0)}, failed, time.Second,
			Decision{Restart, 100 * time.Millisecond, "exit status 1, restart 1 in 100ms"}, 1},
		{"start just inside the window counts", limited, History{Starts: at(-58.8, 0)}, failed, time.Second,
			Decision{Fail, 0, "exit status 1, start limit reached: 2 starts within 1m0s"}, 1},
		{"starts after the restart time do not count", limited, History{Starts: at(0, 1.2)}, failed, time.Second,
			Decision{Restart, 100 * time.Millisecond, "exit status 1, restart 1 in 100ms"}, 1},
		{"success is not limited", with(limited, func(p *Params) { p.Mode = OnFailure }), History{Starts: at(-1, 0)}, success, time.Second,
			Decision{Done, 0, "exit status 0, exited successfully"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			got := Decide(tt.p, &h, tt.e, t0, t0.Add(tt.ran), 0.5)
			if got != tt.want {
				t.Errorf("Decide = %+v\nwant     %+v", got, tt.want)
			}
			if h.Attempt != tt.wantAttempt {
				t.Errorf("Attempt = %d, want %d", h.Attempt, tt.wantAttempt)
			}
		})
	}
}

// supervise plays the supervisor's loop for a service that crashes after running for ran:
// start, exit, decide, wait the delay, start again, until Decide stops restarting. It
// returns the number of starts, the final decision and the time it came.
func supervise(t *testing.T, p Params, h *History, now time.Time, ran time.Duration) (int, Decision, time.Time) {
	t.Helper()
	for starts := 1; starts <= 1000; starts++ {
		h.RecordStart(p, now)
		startedAt := now
		now = now.Add(ran)
		d := Decide(p, h, failed, startedAt, now, 0)
		if d.Action != Restart {
			return starts, d, now
		}
		now = now.Add(d.Delay)
	}
	t.Fatal("the service was never stopped from restarting")
	return 0, Decision{}, now
}

func TestCrashLoopHitsLimit(t *testing.T) {
	base := with(crashy, func(p *Params) { p.Mode, p.Burst, p.Window = Always, 4, 5*time.Minute })
	for _, cooldown := range []time.Duration{0, time.Minute} {
		t.Run("cooldown "+cooldown.String(), func(t *testing.T) {
			p := with(base, func(p *Params) { p.Cooldown = cooldown })
			var h History
			starts, d, now := supervise(t, p, &h, t0, 10*time.Millisecond)
			want := Decision{Fail, cooldown, "exit status 1, start limit reached: 4 starts within 5m0s"}
			if cooldown > 0 {
				want.Reason += ", retry in 1m0s"
			}
			if starts != 4 || d != want {
				t.Fatalf("%d starts ending in %+v, want 4 starts ending in %+v", starts, d, want)
			}

			// When the cooldown elapses the supervisor resets the history and the
			// service gets a fresh budget.
			h.Reset()
			if again, _, _ := supervise(t, p, &h, now.Add(cooldown), 10*time.Millisecond); again != 4 {
				t.Errorf("after Reset: %d starts, want 4", again)
			}
		})
	}
}

func TestWindowSlides(t *testing.T) {
	// A service that runs for 50s before crashing starts at most twice a minute, and
	// the window slides: it keeps being restarted because old starts fall out.
	p := Params{Mode: Always, Initial: 20 * time.Second, Max: 20 * time.Second, Factor: 1, Burst: 2, Window: time.Minute}
	var h History
	now := t0
	for i := range 10 {
		h.RecordStart(p, now)
		startedAt := now
		now = now.Add(50 * time.Second)
		d := Decide(p, &h, failed, startedAt, now, 0)
		if d.Action != Restart || d.Delay != 20*time.Second {
			t.Fatalf("run %d: %+v, want a restart in 20s", i+1, d)
		}
		if len(h.Starts) > p.Burst {
			t.Fatalf("run %d: %d starts kept, want at most %d", i+1, len(h.Starts), p.Burst)
		}
		now = now.Add(d.Delay)
	}

	// A faster crash loop with the same limit fails on its second exit.
	starts, d, _ := supervise(t, p, &History{}, now, time.Second)
	if starts != 2 || d.Action != Fail {
		t.Errorf("fast loop: %d starts ending in %+v, want 2 starts then fail", starts, d)
	}
}
