package supervisor

import (
	"context"
	"errors"
)

// One goroutine, the loop, owns what changes the set of services: reloads,
// the schedules' timers, and the reactions to the services' changes that
// dependencies call for (coordinate). Anything else that needs one of these
// hands the loop a function (onLoop) and waits for it to have run.

// errLoopEnded: the loop is gone (the supervisor stopped).
var errLoopEnded = errors.New("supervisor loop ended")

// run is the loop; it returns when ctx ends.
func (s *Supervisor) run(ctx context.Context) {
	defer close(s.loopEnd)
	seen := map[string]map[string]uint64{}
	for {
		select {
		case <-ctx.Done():
			s.disarmSchedules()
			return
		case fn := <-s.inbox:
			fn()
		case <-s.wake:
			s.coordinate(ctx, seen)
		}
	}
}

// onLoop runs fn on the loop and returns once it has run. Before the loop
// starts (Resume) fn runs on the caller's goroutine, which is then the only
// one; once the loop has ended it does not run.
func (s *Supervisor) onLoop(ctx context.Context, fn func()) error {
	if s.stopCoord == nil {
		fn()
		return nil
	}
	done := make(chan struct{})
	select {
	case s.inbox <- func() { fn(); close(done) }:
	case <-s.loopEnd:
		return errLoopEnded
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done // fn may not be abandoned half run: it owns the loop's state meanwhile
	return nil
}
