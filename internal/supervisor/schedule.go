package supervisor

import (
	"context"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/service"
)

// A scheduled oneshot has one pending timer, armed for its next run: nothing
// polls. When the timer fires while the previous run still goes, the run is
// skipped and recorded, and the next one is armed.

// armSchedules arms a timer for every scheduled service, replacing any armed
// before (a reload re-arms from the new config).
func (s *Supervisor) armSchedules() {
	s.disarmSchedules()
	s.mu.RLock()
	members := s.members
	s.mu.RUnlock()
	for _, m := range members {
		if m.spec().Schedule != nil {
			s.arm(m.spec().Name)
		}
	}
}

// disarmSchedules stops every pending schedule timer.
func (s *Supervisor) disarmSchedules() {
	s.schedMu.Lock()
	defer s.schedMu.Unlock()
	for name, t := range s.timers {
		t.Stop()
		delete(s.timers, name)
		delete(s.nextRun, name)
	}
}

// arm sets the timer for the next run of the named service.
func (s *Supervisor) arm(name string) {
	s.mu.RLock()
	m := s.byName[name]
	s.mu.RUnlock()
	if m == nil || m.spec().Schedule == nil {
		return
	}
	next := m.spec().Schedule.Next(time.Now())
	s.schedMu.Lock()
	defer s.schedMu.Unlock()
	if old := s.timers[name]; old != nil {
		old.Stop()
	}
	if next.IsZero() {
		delete(s.timers, name)
		delete(s.nextRun, name)
		s.log.Warn("schedule never fires again", "service", name, "schedule", m.spec().Schedule.String())
		return
	}
	s.nextRun[name] = next
	s.timers[name] = time.AfterFunc(time.Until(next), func() { s.runScheduled(name) })
}

// runScheduled starts a scheduled run, or skips it when the last one still goes.
func (s *Supervisor) runScheduled(name string) {
	select {
	case <-s.closing:
		return
	default:
	}
	s.mu.RLock()
	m := s.byName[name]
	s.mu.RUnlock()
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
}

// nextRunOf returns when a scheduled service runs next, zero if it is not scheduled.
func (s *Supervisor) nextRunOf(name string) time.Time {
	s.schedMu.Lock()
	defer s.schedMu.Unlock()
	return s.nextRun[name]
}
