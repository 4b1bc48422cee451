package journal

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// subscribe is a follower's subscription without its goroutine: what the
// journal hands it waits in sub.ch, to be looked at right after the call
// that sent it.
func subscribe(t *testing.T, j *Journal) (*snapshot, *subscriber) {
	t.Helper()
	snap, sub, err := j.snapshot(true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { snap.close(); j.unsubscribe(sub) })
	return snap, sub
}

// queued takes what sub was handed so far.
func queued(sub *subscriber) []int {
	var out []int
	for {
		select {
		case e := <-sub.ch:
			out = append(out, e.Attempt)
		default:
			return out
		}
	}
}

func TestHoldWritesAtOnceAndReleasesInFileOrder(t *testing.T) {
	j, _ := open(t, Options{})
	_, sub := subscribe(t, j)
	relA := j.Hold(api.Event{Type: api.EventRespawn, Attempt: 1})
	relB := j.Hold(api.Event{Type: api.EventRespawn, Attempt: 2})
	if got := attempts(readAll(t, j, time.Time{}, 0)); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("the file holds %v before any release, want [1 2]", got)
	}
	if got := queued(sub); len(got) != 0 {
		t.Fatalf("a follower got %v before any release", got)
	}
	relB()
	if got := queued(sub); len(got) != 0 {
		t.Fatalf("after the second event's release a follower got %v; the first is still held", got)
	}
	relA()
	if got := queued(sub); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("after both releases a follower got %v, want [1 2]", got)
	}
	relA() // a second release changes nothing
	j.Record(api.Event{Type: api.EventRespawn, Attempt: 3})
	if got := queued(sub); len(got) != 1 || got[0] != 3 {
		t.Fatalf("after Record a follower got %v, want [3]", got)
	}
}

// A follower that subscribes between an event's Hold and its release finds
// it in the files, and not a second time live.
func TestSubscribeBetweenHoldAndRelease(t *testing.T) {
	j, _ := open(t, Options{})
	rel := j.Hold(api.Event{Type: api.EventRespawn, Attempt: 1})
	snap, sub := subscribe(t, j)
	var replayed []int
	if err := replay(context.Background(), snap, time.Time{}, 0, func(e api.Event) error {
		replayed = append(replayed, e.Attempt)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(replayed) != 1 || replayed[0] != 1 {
		t.Fatalf("the snapshot holds %v, want [1]", replayed)
	}
	rel()
	if got := queued(sub); len(got) != 0 {
		t.Fatalf("the follower got %v live after finding it in the files", got)
	}
	j.Record(api.Event{Type: api.EventRespawn, Attempt: 2})
	if got := queued(sub); len(got) != 1 || got[0] != 2 {
		t.Fatalf("then got %v, want [2]", got)
	}
}

// A release never called holds the events after it back only until maxHeld
// wait: then they go, oldest first, and held stays bounded.
func TestUnreleasedHoldIsBounded(t *testing.T) {
	j, _ := open(t, Options{})
	_ = j.Hold(api.Event{Type: api.EventRespawn, Attempt: -1})
	for i := range maxHeld {
		j.Record(api.Event{Type: api.EventRespawn, Attempt: i})
	}
	j.mu.Lock()
	held, sent, recorded := len(j.held), j.sent, j.recorded
	j.mu.Unlock()
	if recorded != maxHeld+1 || sent != recorded || held != 0 {
		t.Fatalf("after %d events behind one never released: recorded %d, sent %d, held %d; want all sent",
			maxHeld, recorded, sent, held)
	}
}

// Holds and releases from many goroutines at once: the follower gets every
// event once, in the file's order.
func TestConcurrentHoldsReachFollowersInFileOrder(t *testing.T) {
	j, _ := open(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan api.Event, 1000)
	done := make(chan error, 1)
	go func() {
		done <- j.Follow(ctx, time.Time{}, 0, true, func(e api.Event) error {
			got <- e
			return nil
		})
	}()
	waitSubscribed(t, j)
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				rel := j.Hold(api.Event{Type: api.EventRespawn, Attempt: w*each + i})
				if i%2 == 0 {
					rel()
				} else {
					defer rel() // released late, after later events of this writer
				}
			}
		})
	}
	wg.Wait()
	file := attempts(readAll(t, j, time.Time{}, 0))
	if len(file) != writers*each {
		t.Fatalf("the file holds %d events, want %d", len(file), writers*each)
	}
	for i, want := range file {
		if e := next(t, got); e.Attempt != want {
			t.Fatalf("event %d: the follower got attempt %d, the file has %d", i, e.Attempt, want)
		}
	}
	cancel()
	<-done
}

// waitSubscribed waits until a Follow has subscribed.
func waitSubscribed(t *testing.T, j *Journal) {
	t.Helper()
	for end := time.Now().Add(wait); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		j.mu.Lock()
		n := len(j.subs)
		j.mu.Unlock()
		if n > 0 {
			return
		}
	}
	t.Fatal("the follower did not subscribe")
}
