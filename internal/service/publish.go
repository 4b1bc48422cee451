package service

import (
	"context"
	"log/slog"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/api"
)

// What the actor shows: the journal's transitions and the published snapshot.

// logTransition logs a transition and writes its event to the journal. It
// returns what tells the journal's followers, for the caller to call once the
// new state is published.
func (s *Service) logTransition(from, to State, ev Event) (release func()) {
	se := api.Event{Type: api.EventState, Service: s.cfg.Name, Gen: s.gen, From: from.String(), To: to.String(), Reason: ev.String()}
	if s.live {
		se.Pid = s.proc.Pid()
	}
	if s.errText != "" && (to == Failed || to == Backoff) {
		se.Reason = s.errText
	}
	if (ev == EvReadyFailed || ev == EvUnhealthy) && s.probeErr != "" {
		se.Reason = ev.String() + ": " + s.probeErr
	}
	release = func() {}
	if h, ok := s.opts.Journal.(holder); ok {
		release = h.Hold(se)
	} else {
		s.opts.Journal.Record(se)
	}
	level := slog.LevelInfo
	if to == Failed {
		level = slog.LevelError
	} else if to == Backoff {
		level = slog.LevelWarn
	}
	if lg := s.lg(); lg.enabled(level) {
		lg.base.Log(context.Background(), level, "state", s.transitionAttrs(from, to, ev)...)
	}
	return release
}

// transitionAttrs are the attributes of a transition's log line, the
// service's name first (see logger).
func (s *Service) transitionAttrs(from, to State, ev Event) []any {
	attrs := []any{"service", s.name, "gen", s.gen, "from", from.String(), "to", to.String(), "event", ev.String()}
	if s.live {
		attrs = append(attrs, "pid", s.proc.Pid())
	}
	switch ev {
	case EvExitRestart, EvExitDone, EvExitFail, EvExitStopped:
		if s.lastExit != nil {
			if s.lastExit.Signal != 0 {
				attrs = append(attrs, "signal", unix.SignalName(syscall.Signal(s.lastExit.Signal)))
			} else {
				attrs = append(attrs, "exit_code", s.lastExit.Code)
			}
		}
	}
	if !s.timerAt.IsZero() {
		key := "next_retry"
		if s.timerEv == EvStopTimeout {
			key = "kill_at"
		}
		attrs = append(attrs, key, s.timerAt.Format(time.RFC3339Nano))
	}
	if s.errText != "" && (to == Failed || to == Backoff) {
		attrs = append(attrs, "reason", s.errText)
	}
	return attrs
}

func (s *Service) publish() {
	s.seq++
	snap := Snapshot{
		Name:        s.cfg.Name,
		Kind:        s.cfg.Kind,
		State:       s.state,
		Since:       s.since,
		Wanted:      s.wanted,
		Seq:         s.seq,
		Gen:         s.gen,
		StartedAt:   s.startedAt,
		Restarts:    s.restarts,
		LastExit:    s.lastExit,
		Exits:       s.exits,
		Error:       s.errText,
		Attempt:     s.hist.Attempt,
		ExitCounts:  s.exitCounts,
		Containment: s.opts.Containment,
	}
	if s.live {
		snap.Health = s.health
	}
	if s.nxt != nil {
		snap.NextPid = s.nxt.proc.Pid()
	}
	if s.state == Waiting {
		snap.WaitingOn, snap.Blocked = s.waitingOn.On, s.waitingOn.Blocked
	}
	if s.cfg.Policy.Window > 0 {
		cut := time.Now().Add(-s.cfg.Policy.Window)
		for _, t := range s.hist.Starts {
			if t.After(cut) {
				snap.StartsInWindow++
			}
		}
	}
	if s.live {
		snap.Pid = s.proc.Pid()
	}
	if s.timerEv != EvStopTimeout {
		snap.NextRetryAt = s.timerAt
	}
	p := &published{snap: snap, changed: make(chan struct{})}
	old := s.cur.Swap(p)
	if old != nil {
		close(old.changed)
		s.opts.Notify()
	}
	s.save()
}
