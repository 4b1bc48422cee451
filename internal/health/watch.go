package health

import (
	"context"
	"fmt"
	"time"
)

// Watch runs check every interval (the first after one interval), each try bounded by
// timeout, until ctx ends. The first result and every change between pass and fail
// call report (err is nil on a pass), so the health field follows each try; after
// failures consecutive failures (at least 1) it calls unhealthy once with the last
// error and returns. Either callback may be nil. A try cut short because ctx ended
// counts for nothing, and no timer outlives the call. An interval <= 0 cannot be run:
// unhealthy gets an error wrapping ErrInvalid at once.
func Watch(ctx context.Context, check Check, interval, timeout time.Duration, failures int, report func(healthy bool, err error), unhealthy func(error)) {
	if unhealthy == nil {
		unhealthy = func(error) {}
	}
	if check == nil || interval <= 0 {
		unhealthy(fmt.Errorf("%w: health needs a check and an interval > 0 (got %v)", ErrInvalid, interval))
		return
	}
	failures = max(failures, 1)
	timer := time.NewTimer(interval)
	defer timer.Stop()
	var (
		reported, healthy bool
		failed            int
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		err := try(ctx, check, timeout)
		if ctx.Err() != nil {
			return
		}
		if pass := err == nil; report != nil && (!reported || pass != healthy) {
			report(pass, err)
		}
		reported, healthy = true, err == nil
		if err == nil {
			failed = 0
		} else if failed++; failed >= failures {
			unhealthy(err)
			return
		}
		timer.Reset(interval)
	}
}

// WatchPings calls unhealthy once, with an error wrapping ErrWatchdog, when no ping
// came on pings for every, and returns then or when ctx ends. The period starts at
// the call. An every <= 0 cannot be run: unhealthy gets an error wrapping ErrInvalid.
func WatchPings(ctx context.Context, pings <-chan struct{}, every time.Duration, unhealthy func(error)) {
	if unhealthy == nil {
		unhealthy = func(error) {}
	}
	if every <= 0 {
		unhealthy(fmt.Errorf("%w: watchdog period must be > 0 (got %v)", ErrInvalid, every))
		return
	}
	timer := time.NewTimer(every)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-pings:
			if !ok {
				pings = nil // a closed channel brings no more pings; wait out the period
				continue
			}
			timer.Reset(every)
		case <-timer.C:
			unhealthy(fmt.Errorf("%w for %v", ErrWatchdog, every))
			return
		}
	}
}
