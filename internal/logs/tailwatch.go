package logs

import "regexp"

// tailWatcher is one Match call still waiting for its first matching line.
type tailWatcher struct {
	re   *regexp.Regexp
	done chan struct{}
}

// Match returns a channel that is closed the first time a line added to t matches re,
// counting the lines t already holds. Lines are matched as t keeps them: cut to 512
// bytes, and only those t keeps (the last n lines of each read, n as given to NewTail),
// so a Tail that keeps nothing never matches. A Tail may have several watchers; one
// whose line never comes is held until t itself is dropped, which is cheap because a
// Tail lives for one run. A nil Tail or a nil re gives a channel that is never closed.
func (t *Tail) Match(re *regexp.Regexp) <-chan struct{} {
	done := make(chan struct{})
	if t == nil || re == nil {
		return done
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.slots {
		if re.Match(t.slots[i].text) {
			close(done)
			return done
		}
	}
	t.watchers = append(t.watchers, tailWatcher{re: re, done: done})
	return done
}

// notifyWatchers closes and forgets the watchers that text matches; t.mu is held.
func (t *Tail) notifyWatchers(text []byte) {
	kept := t.watchers[:0]
	for _, w := range t.watchers {
		if w.re.Match(text) {
			close(w.done)
		} else {
			kept = append(kept, w)
		}
	}
	clear(t.watchers[len(kept):])
	if len(kept) == 0 {
		kept = nil // an unwatched Tail holds nothing
	}
	t.watchers = kept
}
