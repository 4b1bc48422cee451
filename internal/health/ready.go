package health

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"time"
)

// WaitReady returns nil as soon as check passes, trying every interval (the first try
// at once), each try bounded by timeout. It returns an error wrapping ErrDeadline and
// the last check error when deadline passes first, or ctx.Err() when ctx ends first.
// A timeout <= 0 bounds a try only by the deadline; a deadline <= 0 waits for ctx.
func WaitReady(ctx context.Context, check Check, interval, timeout, deadline time.Duration) error {
	if check == nil || interval <= 0 {
		return fmt.Errorf("%w: readiness needs a check and an interval > 0 (got %v)", ErrInvalid, interval)
	}
	dctx := ctx
	if deadline > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, deadline)
		defer cancel()
	}
	var timer *time.Timer // made at the first failure only: a quick pass costs none
	for {
		lastErr := try(dctx, check, timeout)
		if lastErr == nil {
			return nil
		}
		if timer == nil {
			timer = time.NewTimer(interval)
			defer timer.Stop()
		} else {
			timer.Reset(interval)
		}
		select {
		case <-timer.C:
		case <-dctx.Done():
			if err := ctx.Err(); err != nil {
				return err
			}
			return fmt.Errorf("%w after %v: %w", ErrDeadline, deadline, lastErr)
		}
	}
}

// try runs check once, bounded by timeout when it is positive.
func try(ctx context.Context, check Check, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return check(ctx)
}

// Matcher tells when a line of a run's output matches a pattern; a
// *logs.Tail is one.
type Matcher interface {
	Match(re *regexp.Regexp) <-chan struct{}
}

// WaitLog returns nil once a line matching re is on t (see logs.Tail.Match), an error
// wrapping ErrDeadline once deadline has passed, or ctx.Err(). A deadline <= 0 waits
// for ctx.
func WaitLog(ctx context.Context, t Matcher, re *regexp.Regexp, deadline time.Duration) error {
	if isNil(t) || re == nil {
		return fmt.Errorf("%w: log readiness needs a tail and a pattern", ErrInvalid)
	}
	matched := t.Match(re)
	var expired <-chan time.Time
	if deadline > 0 {
		timer := time.NewTimer(deadline)
		defer timer.Stop()
		expired = timer.C
	}
	select {
	case <-matched:
		return nil
	case <-expired:
		return fmt.Errorf("%w after %v: no output line matched %q", ErrDeadline, deadline, re)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isNil reports whether m is nil, or a nil pointer (a nil *logs.Tail) in an
// interface: either has nothing to match.
func isNil(m Matcher) bool {
	if m == nil {
		return true
	}
	v := reflect.ValueOf(m)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
