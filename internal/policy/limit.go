package policy

import "time"

// RecordStart notes a start at now and forgets the starts that can no longer count
// against the limit: those outside (now-Window, now], and all but the newest Burst.
// With Burst <= 0 there is no limit, so nothing is kept.
func (h *History) RecordStart(p Params, now time.Time) {
	if p.Burst <= 0 {
		h.Starts = h.Starts[:0]
		return
	}
	h.Starts = append(h.Starts, now)
	cutoff := now.Add(-p.Window)
	kept := h.Starts[:0]
	for _, t := range h.Starts {
		if t.After(cutoff) {
			kept = append(kept, t)
		}
	}
	// Only the newest Burst starts can decide whether the limit is reached.
	h.Starts = kept[max(len(kept)-p.Burst, 0):]
}

// Reset forgets the start history and the failure count: a person ran start, or the
// cooldown after a Fail elapsed.
func (h *History) Reset() {
	h.Starts = nil
	h.Attempt = 0
}

// startsWithin counts the recorded starts in the window (at-window, at].
func (h *History) startsWithin(window time.Duration, at time.Time) int {
	from := at.Add(-window)
	n := 0
	for _, t := range h.Starts {
		if t.After(from) && !t.After(at) {
			n++
		}
	}
	return n
}
