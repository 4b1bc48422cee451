package supervisor

import (
	"context"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/service"
)

// A scheduled oneshot has one pending timer, armed for its next run: nothing
// polls. When the timer fires while the previous run still goes, the run is
// skipped and recorded, and the next one is armed. The timers belong to the
// loop: every function here runs on it.

// schedTimer is one scheduled service's pending timer and when it fires.
type schedTimer struct {
	t    *time.Timer
	next time.Time
}

// armSchedules arms a timer for every scheduled service, replacing any armed
// before (a reload re-arms from the new config).
func (s *Supervisor) armSchedules() {
	s.disarmSchedules()
	for _, m := range s.roster.Load().members {
		if m.spec().Schedule != nil {
			s.arm(m.spec().Name)
		}
	}
	s.publishNextRuns()
}

// disarmSchedules stops every pending schedule timer.
func (s *Supervisor) disarmSchedules() {
	for name, st := range s.timers {
		st.t.Stop()
		delete(s.timers, name)
	}
	s.publishNextRuns()
}

// arm sets the timer for the next run of the named service.
func (s *Supervisor) arm(name string) {
	if old := s.timers[name]; old != nil {
		old.t.Stop()
		delete(s.timers, name)
	}
	m := s.roster.Load().byName[name]
	if m == nil || m.spec().Schedule == nil {
		return
	}
	next := m.spec().Schedule.Next(time.Now())
	if next.IsZero() {
		s.log.Warn("schedule never fires again", "service", name, "schedule", m.spec().Schedule.String())
		return
	}
	st := &schedTimer{next: next}
	st.t = time.AfterFunc(time.Until(next), func() {
		fire := func() {
			if s.timers[name] == st { // else replaced or disarmed meanwhile
				s.runScheduled(name)
			}
		}
		select {
		case s.inbox <- fire:
		case <-s.loopEnd:
		}
	})
	s.timers[name] = st
}

// publishNextRuns makes the pending runs visible to status.
func (s *Supervisor) publishNextRuns() {
	next := make(map[string]time.Time, len(s.timers))
	for name, st := range s.timers {
		next[name] = st.next
	}
	s.nextRuns.Store(&next)
}

// runScheduled starts a scheduled run, or skips it when the last one still goes.
func (s *Supervisor) runScheduled(name string) {
	select {
	case <-s.closing:
		return
	default:
	}
	m := s.roster.Load().byName[name]
	if m == nil || m.spec().Schedule == nil {
		return // removed by a reload
	}
	snap := m.svc.Snapshot()
	if snap.State.Up() || snap.State == service.Waiting {
		s.log.Warn("scheduled run skipped: the previous run is still going", "service", name, "state", snap.State.String())
		s.opts.Journal.Record(api.Event{Type: api.EventSchedule, Service: name, Gen: snap.Gen, Pid: snap.Pid,
			Reason: "run skipped: the previous run is still " + snap.State.String()})
	} else {
		s.opts.Journal.Record(api.Event{Type: api.EventSchedule, Service: name, Reason: "run started by schedule " + m.spec().Schedule.String()})
		go func() {
			if _, err := m.svc.Start(context.Background()); err != nil {
				s.log.Error("scheduled start", "service", name, "err", err)
			}
		}()
	}
	s.arm(name)
	s.publishNextRuns()
}
