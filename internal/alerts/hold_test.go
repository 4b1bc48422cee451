package alerts

import (
	"sync"
	"testing"

	"github.com/respawn-sh/respawn/internal/api"
)

// holdingJournal holds each event back from its followers until released.
type holdingJournal struct {
	mu       sync.Mutex // guards held and released
	held     []api.Event
	released []api.Event
}

func (h *holdingJournal) Record(e api.Event) { h.Hold(e)() }

func (h *holdingJournal) Hold(e api.Event) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = append(h.held, e)
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.released = append(h.released, e)
	}
}

func (h *holdingJournal) counts() (held, released int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.held), len(h.released)
}

// Over a journal that can hold events back, the notifier's Hold writes the
// event at once and leaves its release to the caller; Record releases at
// once.
func TestNotifierHoldLeavesTheReleaseToTheCaller(t *testing.T) {
	j := &holdingJournal{}
	n, err := New(Options{Journal: j, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	release := n.Hold(*crash("api"))
	if held, released := j.counts(); held != 1 || released != 0 {
		t.Fatalf("after Hold: %d written, %d released; want 1, 0", held, released)
	}
	j.mu.Lock()
	stamped := !j.held[0].Time.IsZero()
	j.mu.Unlock()
	if !stamped {
		t.Error("the event reached the journal without a time")
	}
	release()
	if held, released := j.counts(); held != 1 || released != 1 {
		t.Fatalf("after the release: %d written, %d released; want 1, 1", held, released)
	}
	n.Record(*crash("api"))
	if held, released := j.counts(); held != 2 || released != 2 {
		t.Fatalf("after Record: %d written, %d released; want 2, 2", held, released)
	}
}

// Over a journal that cannot, Hold records at once and its release does
// nothing.
func TestNotifierHoldOverAPlainJournal(t *testing.T) {
	j := &journal{}
	n, err := New(Options{Journal: j, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	release := n.Hold(*crash("api"))
	j.mu.Lock()
	got := len(j.events)
	j.mu.Unlock()
	if got != 1 {
		t.Fatalf("after Hold the journal has %d events, want 1", got)
	}
	release()
}
