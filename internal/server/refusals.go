package server

import (
	"container/list"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// A flood of refused requests must not push the journal's history out, nor
// fill the supervisor's log, whether they come over HTTP or from a local
// user the control socket does not allow. So the first refusal from a
// client (an address, or a uid) is recorded
// at once, with what it asked for; the ones after it are counted and
// recorded as one event per client per refusalWindow; and all clients
// together get at most maxRefusalEvents events per refusalWindow, plus one
// that counts what was left out.
const (
	refusalWindow    = time.Minute
	maxRefusalEvents = 20
	// minFlushGap spaces the timer's runs, whatever the clients' windows.
	minFlushGap = time.Second
)

// refusalKind is why a request was refused.
type refusalKind int

const (
	refusedNoToken refusalKind = iota
	refusedWrongToken
	refusedThrottled
	refusedPeer
	nRefusalKinds
)

var refusalKindText = [nRefusalKinds]string{
	refusedNoToken:    "without a bearer token",
	refusedWrongToken: "with a wrong bearer token",
	refusedThrottled:  "answered 429 while it had to wait",
	refusedPeer:       "by a user the socket does not allow",
}

// refusals aggregates refused requests into journal events, for one
// listener kind: the HTTP listener's or the control socket's.
type refusals struct {
	record func(api.Event)
	log    *slog.Logger
	what   string // what is refused, as counted in events: "HTTP request"
	source string // the log line's prefix: "http"

	mu      sync.Mutex               // guards everything below
	clients map[string]*list.Element // of *tally, by client key
	byAge   list.List                // of *tally; front: the oldest window
	timer   *time.Timer              // runs flush; armed while clients is non-empty
	// The global budget: events recorded in the window that began at
	// budgetStart, and what was left out since.
	budgetStart        time.Time
	budgetUsed         int
	suppressedEvents   int
	suppressedRequests uint64
}

// tally counts one client's refusals since its last event.
type tally struct {
	key    string
	since  time.Time // when the client's last event was recorded
	counts [nRefusalKinds]uint64
}

func (t *tally) total() uint64 {
	var n uint64
	for _, c := range t.counts {
		n += c
	}
	return n
}

func newRefusals(record func(api.Event), log *slog.Logger, what, source string) *refusals {
	return &refusals{record: record, log: log, what: what, source: source, clients: map[string]*list.Element{}}
}

// note counts one refused request from the client with the given key.
// first describes it, and is called only when this refusal is recorded on
// its own: the client's first in a while.
func (r *refusals) note(key string, kind refusalKind, first func() api.Event) {
	now := time.Now()
	var out []api.Event
	r.mu.Lock()
	if e, ok := r.clients[key]; ok {
		e.Value.(*tally).counts[kind]++
		r.mu.Unlock()
		return
	}
	if len(r.clients) >= maxClients {
		out = r.closeLocked(r.byAge.Front(), now, out)
	}
	r.clients[key] = r.byAge.PushBack(&tally{key: key, since: now})
	if r.admitLocked(now, 1, &out) {
		out = append(out, first())
	}
	r.armLocked(now)
	r.mu.Unlock()
	r.emit(out)
}

// flush records what each client whose window has passed was refused since
// its last event, forgets clients that were refused nothing, and closes the
// global budget's window when it has passed. It runs on the timer.
func (r *refusals) flush() {
	now := time.Now()
	var out []api.Event
	r.mu.Lock()
	r.timer = nil
	for e := r.byAge.Front(); e != nil; {
		next := e.Next()
		t := e.Value.(*tally)
		if now.Sub(t.since) < refusalWindow {
			break // the list is in window order
		}
		if t.total() == 0 {
			delete(r.clients, t.key)
			r.byAge.Remove(e)
		} else {
			out = r.summaryLocked(t, now, out)
			t.since, t.counts = now, [nRefusalKinds]uint64{}
			r.byAge.MoveToBack(e)
		}
		e = next
	}
	r.rollBudgetLocked(now, &out)
	r.armLocked(now)
	r.mu.Unlock()
	r.emit(out)
}

// flushAll records every count still pending, whatever the windows, and
// stops the timer: for a supervisor about to close its journal.
func (r *refusals) flushAll() {
	now := time.Now()
	var out []api.Event
	r.mu.Lock()
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	for e := r.byAge.Front(); e != nil; e = r.byAge.Front() {
		out = r.closeLocked(e, now, out)
	}
	out = r.suppressionLocked(now, out)
	r.mu.Unlock()
	r.emit(out)
}

// closeLocked forgets a client, first recording what it was refused since
// its last event.
func (r *refusals) closeLocked(e *list.Element, now time.Time, out []api.Event) []api.Event {
	t := e.Value.(*tally)
	delete(r.clients, t.key)
	r.byAge.Remove(e)
	if t.total() > 0 {
		out = r.summaryLocked(t, now, out)
	}
	return out
}

// summaryLocked appends the event for a client's counted refusals, if the
// budget allows it.
func (r *refusals) summaryLocked(t *tally, now time.Time, out []api.Event) []api.Event {
	n := t.total()
	if !r.admitLocked(now, n, &out) {
		return out
	}
	var parts []string
	for k, c := range t.counts {
		if c > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c, refusalKindText[k]))
		}
	}
	return append(out, api.Event{Type: api.EventRefused, Message: fmt.Sprintf("refused %d more %s from %s in %s: %s",
		n, plural(n, r.what), t.key, now.Sub(t.since).Round(time.Second), strings.Join(parts, ", "))})
}

// admitLocked takes one event of the global budget for n refused requests;
// false means it was used up and the event is counted as left out.
func (r *refusals) admitLocked(now time.Time, n uint64, out *[]api.Event) bool {
	r.rollBudgetLocked(now, out)
	if r.budgetUsed < maxRefusalEvents {
		r.budgetUsed++
		return true
	}
	r.suppressedEvents++
	r.suppressedRequests += n
	return false
}

// rollBudgetLocked starts a new budget window once the current one has
// passed, recording what the old one left out.
func (r *refusals) rollBudgetLocked(now time.Time, out *[]api.Event) {
	if now.Sub(r.budgetStart) < refusalWindow {
		return
	}
	*out = r.suppressionLocked(now, *out)
	r.budgetStart, r.budgetUsed = now, 0
}

// suppressionLocked appends the event that counts what the budget left out,
// if anything was.
func (r *refusals) suppressionLocked(now time.Time, out []api.Event) []api.Event {
	if r.suppressedEvents == 0 {
		return out
	}
	out = append(out, api.Event{Type: api.EventRefused, Message: fmt.Sprintf("events for refused %s are limited to %d a minute: %d more, for %d refused %s, were not recorded since %s",
		plural(2, r.what), maxRefusalEvents, r.suppressedEvents, r.suppressedRequests, plural(r.suppressedRequests, r.what), r.budgetStart.UTC().Format(time.RFC3339))})
	r.suppressedEvents, r.suppressedRequests = 0, 0
	return out
}

// armLocked sets the timer for the next window to end: the oldest
// client's, or the budget's while it has left something out.
func (r *refusals) armLocked(now time.Time) {
	if r.timer != nil {
		return
	}
	var next time.Time
	if e := r.byAge.Front(); e != nil {
		next = e.Value.(*tally).since.Add(refusalWindow)
	}
	if r.suppressedEvents > 0 {
		if end := r.budgetStart.Add(refusalWindow); next.IsZero() || end.Before(next) {
			next = end
		}
	}
	if next.IsZero() {
		return
	}
	r.timer = time.AfterFunc(max(next.Sub(now), minFlushGap), r.flush)
}

// emit records the events, outside the lock: the journal has its own.
func (r *refusals) emit(events []api.Event) {
	for _, e := range events {
		r.record(e)
		r.log.Warn(r.source + ": " + e.Message)
	}
}

func plural(n uint64, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
