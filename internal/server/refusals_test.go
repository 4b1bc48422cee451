package server

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

func messages(rec *recorder) []string {
	var out []string
	for _, e := range rec.ofType(api.EventRefused) {
		out = append(out, e.Message)
	}
	return out
}

func TestRefusalsAreOneEventPerClientPerMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		r := newRefusals(rec.record, slog.New(slog.DiscardHandler), "HTTP request", "http")
		first := func() api.Event { return api.Event{Type: api.EventRefused, Message: "first from 10.0.0.5"} }
		for i := range 1000 {
			kind := refusedWrongToken
			if i%10 == 0 {
				kind = refusedThrottled
			}
			r.note("10.0.0.5", kind, first)
		}
		r.note("10.0.0.6", refusedNoToken, func() api.Event { return api.Event{Type: api.EventRefused, Message: "first from 10.0.0.6"} })
		if got := messages(rec); len(got) != 2 || got[0] != "first from 10.0.0.5" || got[1] != "first from 10.0.0.6" {
			t.Fatalf("events at once: %q, want the first refusal of each client", got)
		}
		time.Sleep(30 * time.Second)
		for range 500 {
			r.note("10.0.0.5", refusedWrongToken, first)
		}
		synctest.Wait()
		if got := messages(rec); len(got) != 2 {
			t.Fatalf("events within the minute: %q", got)
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		want := "refused 1499 more HTTP requests from 10.0.0.5 in 1m0s: 1400 with a wrong bearer token, 99 answered 429 while it had to wait"
		if got := messages(rec); len(got) != 3 || got[2] != want {
			t.Fatalf("after a minute: %q, want a third event %q", got, want)
		}
		// A minute with nothing to count records nothing and forgets the
		// client; its next refusal is recorded at once again.
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if got := messages(rec); len(got) != 3 {
			t.Fatalf("quiet minutes recorded %q", got[3:])
		}
		r.note("10.0.0.5", refusedNoToken, first)
		if got := messages(rec); len(got) != 4 || got[3] != "first from 10.0.0.5" {
			t.Fatalf("after the quiet: %q", got)
		}
		r.note("10.0.0.5", refusedNoToken, first)
		r.flushAll()
		if got := messages(rec); len(got) != 5 || got[4] != "refused 1 more HTTP request from 10.0.0.5 in 0s: 1 without a bearer token" {
			t.Fatalf("flushAll: %q", got)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if got := messages(rec); len(got) != 5 {
			t.Fatalf("after flushAll: %q", got[5:])
		}
	})
}

func TestRefusalEventsAreCappedAndTheRestCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		r := newRefusals(rec.record, slog.New(slog.DiscardHandler), "HTTP request", "http")
		for minute := range 3 {
			for i := range 200 {
				key := fmt.Sprintf("10.0.%d.%d", minute, i)
				for range 5 {
					r.note(key, refusedWrongToken, func() api.Event { return api.Event{Type: api.EventRefused, Message: "first from " + key} })
				}
			}
			time.Sleep(time.Minute)
			synctest.Wait()
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		got := messages(rec)
		var firsts, summaries, capped int
		var left uint64
		for _, m := range got {
			switch {
			case strings.HasPrefix(m, "first from "):
				firsts++
			case strings.HasPrefix(m, "refused 4 more HTTP requests from "):
				summaries++
			case strings.HasPrefix(m, "events for refused HTTP requests are limited to 20 a minute: "):
				capped++
				var events int
				var requests uint64
				if _, err := fmt.Sscanf(strings.TrimPrefix(m, "events for refused HTTP requests are limited to 20 a minute: "), "%d more, for %d refused", &events, &requests); err != nil {
					t.Fatalf("%q: %v", m, err)
				}
				left += requests
			default:
				t.Errorf("unexpected event %q", m)
			}
		}
		// Every minute the budget is spent and one more event counts the
		// rest; nothing is lost from the count.
		if len(got) > 4*(maxRefusalEvents+1) {
			t.Errorf("%d events in 4 minutes, want at most %d", len(got), 4*(maxRefusalEvents+1))
		}
		if capped == 0 {
			t.Error("no event counted the refusals left out")
		}
		if total := uint64(firsts) + 4*uint64(summaries) + left; total != 3*200*5 {
			t.Errorf("events account for %d refused requests (%d first, %d summaries, %d left out), want %d", total, firsts, summaries, left, 3*200*5)
		}
	})
}

func TestRefusalTableIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		r := newRefusals(rec.record, slog.New(slog.DiscardHandler), "HTTP request", "http")
		for i := range maxClients + 1000 {
			key := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
			r.note(key, refusedWrongToken, func() api.Event { return api.Event{Type: api.EventRefused, Message: key} })
			r.note(key, refusedWrongToken, func() api.Event { return api.Event{Type: api.EventRefused, Message: key} })
		}
		r.mu.Lock()
		n := len(r.clients)
		r.mu.Unlock()
		if n != maxClients {
			t.Fatalf("%d clients tallied, want the cap %d", n, maxClients)
		}
		r.flushAll()
		// The events left out are counted in the last one.
		got := messages(rec)
		last := got[len(got)-1]
		want := fmt.Sprintf("events for refused HTTP requests are limited to 20 a minute: %d more, for %d refused HTTP requests", 2*(maxClients+1000)-maxRefusalEvents, 2*(maxClients+1000)-maxRefusalEvents)
		if len(got) != maxRefusalEvents+1 || !strings.HasPrefix(last, want) {
			t.Fatalf("%d events, the last %q; want %d and %q", len(got), last, maxRefusalEvents+1, want)
		}
	})
}
