package logs

import "sync"

// waiter is how the notifier wakes one follow loop: which of the loop's files changed
// since it last looked, which lost their watch, and a channel that says there is news.
type waiter struct {
	wake chan struct{} // capacity 1: one pending wake is enough

	mu      sync.Mutex // guards the fields below: the notifier's reader marks, the loop takes
	marked  []bool     // by file index: already in changed
	changed []int
	lost    []int
}

func newWaiter(n int) *waiter {
	return &waiter{wake: make(chan struct{}, 1), marked: make([]bool, n)}
}

// mark records that file i changed; lost says its watch is gone for good.
func (w *waiter) mark(i int, lost bool) {
	w.mu.Lock()
	if !w.marked[i] {
		w.marked[i] = true
		w.changed = append(w.changed, i)
	}
	if lost {
		w.lost = append(w.lost, i)
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// take returns what was marked since the last take and clears it.
func (w *waiter) take() (changed, lost []int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	changed, lost = w.changed, w.lost
	for _, i := range changed {
		w.marked[i] = false
	}
	w.changed, w.lost = nil, nil
	return changed, lost
}
