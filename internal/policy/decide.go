package policy

import (
	"fmt"
	"slices"
	"time"
)

// IsSuccess reports whether the run ended well: it exited on its own (no signal) with
// one of SuccessCodes, or with 0 when SuccessCodes is empty.
func (p Params) IsSuccess(e Exit) bool {
	if e.Signal != 0 {
		return false
	}
	if len(p.SuccessCodes) == 0 {
		return e.Code == 0
	}
	return slices.Contains(p.SuccessCodes, e.Code)
}

// Decide says what to do now that a run which began at startedAt ended with e at now.
// It updates h.Attempt; the caller records each start with h.RecordStart, and calls
// h.Reset when a person starts the service or the cooldown after a Fail elapses.
// rnd in [0,1) feeds the jitter.
func Decide(p Params, h *History, e Exit, startedAt, now time.Time, rnd float64) Decision {
	// A run that lasted ResetAfter proves the service healthy again, so its failure
	// streak, and with it the backoff, starts over.
	if p.ResetAfter > 0 && now.Sub(startedAt) >= p.ResetAfter {
		h.Attempt = 0
	}

	switch p.Mode {
	case Always:
	case OnFailure:
		if p.IsSuccess(e) {
			return Decision{Action: Done, Reason: e.String() + ", exited successfully"}
		}
	case Never:
		return Decision{Action: Done, Reason: e.String() + ", restart policy never"}
	default:
		return Decision{Action: Fail, Reason: fmt.Sprintf("%s, unknown restart policy %d", e, int(p.Mode))}
	}

	h.Attempt++
	delay := p.Delay(h.Attempt, rnd)
	// The limit is checked against the moment the next start would happen, so starts
	// that slide out of the window during the delay no longer count.
	if p.Burst > 0 {
		if n := h.startsWithin(p.Window, now.Add(delay)); n >= p.Burst {
			return startLimit(p, e, n)
		}
	}
	return Decision{
		Action: Restart,
		Delay:  delay,
		Reason: fmt.Sprintf("%s, restart %d in %s", e, h.Attempt, readable(delay)),
	}
}

// readable rounds a delay for people: jitter makes nanoseconds noise.
func readable(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// startLimit is the Fail decision once n starts filled the window.
func startLimit(p Params, e Exit, n int) Decision {
	reason := fmt.Sprintf("%s, start limit reached: %d starts within %s", e, n, p.Window)
	cooldown := max(p.Cooldown, 0)
	if cooldown > 0 {
		reason += fmt.Sprintf(", retry in %s", cooldown)
	}
	return Decision{Action: Fail, Delay: cooldown, Reason: reason}
}
