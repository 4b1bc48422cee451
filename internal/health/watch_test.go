package health

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

type reportCall struct {
	healthy bool
	try     int // the try whose error was reported; 0 for a pass
}

// scripted returns a Check whose try i (from 1) fails when fail[i-1] is true, and
// which cancels the watch at the try after the last scripted one.
func scripted(cancel context.CancelFunc, fail ...bool) (Check, *int) {
	tries := 0
	return func(context.Context) error {
		tries++
		if tries > len(fail) {
			cancel()
		}
		if tries <= len(fail) && fail[tries-1] {
			return fmt.Errorf("%w: try %d", errDown, tries)
		}
		return nil
	}, &tries
}

func watchScript(t *testing.T, failures int, fail ...bool) (reports []reportCall, unhealthy []error, tries int, elapsed time.Duration) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	check, n := scripted(cancel, fail...)
	start := time.Now()
	Watch(ctx, check, time.Second, time.Second, failures,
		func(healthy bool, err error) {
			var try int
			if err != nil {
				fmt.Sscanf(err.Error(), "down: try %d", &try)
			}
			reports = append(reports, reportCall{healthy, try})
		},
		func(err error) { unhealthy = append(unhealthy, err) })
	return reports, unhealthy, *n, time.Since(start)
}

func TestWatchUnhealthyAfterConsecutiveFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reports, unhealthy, tries, elapsed := watchScript(t, 3, true, true, false, true, true, true, false, false)
		if len(unhealthy) != 1 || !errors.Is(unhealthy[0], errDown) || unhealthy[0].Error() != "down: try 6" {
			t.Fatalf("unhealthy calls = %v, want one with try 6's error", unhealthy)
		}
		if tries != 6 || elapsed != 6*time.Second {
			t.Errorf("stopped after %d tries and %v, want 6 and 6s (first try after one interval)", tries, elapsed)
		}
		want := []reportCall{{false, 1}, {true, 0}, {false, 4}}
		if !slices.Equal(reports, want) {
			t.Errorf("reports = %v, want %v", reports, want)
		}
	})
}

func TestWatchPassResetsTheCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reports, unhealthy, tries, _ := watchScript(t, 3, false, true, true, false, true, true, false)
		if len(unhealthy) != 0 {
			t.Fatalf("unhealthy called: %v", unhealthy)
		}
		if tries != 8 {
			t.Errorf("tries = %d, want 8 (7 scripted, then cancel)", tries)
		}
		want := []reportCall{{true, 0}, {false, 2}, {true, 0}, {false, 5}, {true, 0}}
		if !slices.Equal(reports, want) {
			t.Errorf("reports = %v, want %v", reports, want)
		}
	})
}

func TestWatchStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		called := false
		go func() {
			defer close(done)
			Watch(ctx, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
				time.Second, 0, 1, nil, func(error) { called = true })
		}()
		time.Sleep(1500 * time.Millisecond) // fake time: the first try is hanging now
		cancel()
		<-done
		if called {
			t.Error("a try cut short by ctx counted as a failure")
		}
	})
}

func TestWatchBadInput(t *testing.T) {
	var got error
	Watch(t.Context(), nil, time.Second, time.Second, 1, nil, func(err error) { got = err })
	if !errors.Is(got, ErrInvalid) {
		t.Errorf("nil check: unhealthy(%v), want ErrInvalid", got)
	}
	got = nil
	WatchPings(t.Context(), nil, 0, func(err error) { got = err })
	if !errors.Is(got, ErrInvalid) {
		t.Errorf("zero period: unhealthy(%v), want ErrInvalid", got)
	}
}

func TestWatchPings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pings := make(chan struct{}, 1)
		var got error
		var at time.Duration
		start := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			WatchPings(t.Context(), pings, 10*time.Second, func(err error) { got, at = err, time.Since(start) })
		}()
		for range 5 {
			time.Sleep(8 * time.Second) // fake time, within the period
			pings <- struct{}{}
		}
		<-done
		if !errors.Is(got, ErrWatchdog) || at != 50*time.Second {
			t.Errorf("unhealthy(%v) at %v, want ErrWatchdog at 50s (last ping at 40s)", got, at)
		}
	})
}

func TestWatchPingsStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		called := false
		done := make(chan struct{})
		go func() {
			defer close(done)
			WatchPings(ctx, make(chan struct{}), 10*time.Second, func(error) { called = true })
		}()
		time.Sleep(5 * time.Second)
		cancel()
		<-done
		if called {
			t.Error("unhealthy called after ctx ended")
		}
	})
}
