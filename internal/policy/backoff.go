package policy

import (
	"math"
	"time"
)

// Delay is the wait before restart number attempt (1-based count of consecutive failures):
// Initial*Factor^(attempt-1) capped at Max, then spread by Jitter using rnd in [0,1) and
// capped again. It never returns a negative value or more than Max.
//
// Out-of-range settings degrade to the nearest sensible one rather than panicking: attempt
// below 1 counts as 1, Factor below 1 (or NaN) as 1, Jitter and rnd are clamped to [0,1],
// and Max <= 0 means no cap beyond the largest Duration.
func (p Params) Delay(attempt int, rnd float64) time.Duration {
	if p.Initial <= 0 {
		return 0
	}
	limit := p.Max
	if limit <= 0 {
		limit = math.MaxInt64
	}
	// Float arithmetic turns overflow into +Inf, which the cap then absorbs; integer
	// arithmetic would wrap to a negative delay for large attempts.
	base := float64(p.Initial) * math.Pow(atLeastOne(p.Factor), float64(max(attempt, 1)-1))
	base = float64(capAt(base, limit))
	// The cap comes before the jitter so that services stuck at Max still spread out
	// instead of all retrying in the same instant.
	spread := 1 + unit(p.Jitter)*(2*unit(rnd)-1)
	return capAt(base*spread, limit)
}

// capAt converts ns to a Duration in [0, limit]; NaN gives 0.
func capAt(ns float64, limit time.Duration) time.Duration {
	switch {
	case !(ns > 0):
		return 0
	case ns >= float64(limit):
		return limit
	default:
		return time.Duration(math.Round(ns))
	}
}

// atLeastOne keeps the backoff from shrinking or turning NaN on a bad factor.
func atLeastOne(f float64) float64 {
	if !(f >= 1) {
		return 1
	}
	return f
}

// unit clamps x to [0,1]; NaN gives 0.
func unit(x float64) float64 {
	if !(x > 0) {
		return 0
	}
	return min(x, 1)
}
