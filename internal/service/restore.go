package service

import (
	"context"
	"errors"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/respawn-sh/respawn/internal/policy"
)

// Saved is what a service keeps across a restart of the supervisor core.
type Saved struct {
	State      string            `json:"state"` // State.String() at save time
	Wanted     bool              `json:"wanted"`
	Gen        uint64            `json:"gen"`
	StartedAt  time.Time         `json:"started_at"`
	Restarts   int               `json:"restarts"`
	Hist       policy.History    `json:"hist"`
	ExitCounts map[string]uint64 `json:"exit_counts,omitempty"`
	Exits      []ExitRecord      `json:"exits,omitempty"`
	Health     Health            `json:"health,omitempty"`
	// Slot: the incarnation runs under the alternate process name.
	Slot bool `json:"slot,omitempty"`
}

// savedNow is what the actor would save now. Its Hist.Starts is the live
// slice, which policy rewrites in place: save clones it before handing it out.
func (s *Service) savedNow() Saved {
	return Saved{
		State:      s.state.String(),
		Wanted:     s.wanted,
		Gen:        s.gen,
		StartedAt:  s.startedAt,
		Restarts:   s.restarts,
		Hist:       s.hist,
		ExitCounts: s.exitCounts,
		Exits:      s.exits,
		Health:     s.health,
		Slot:       s.slot,
	}
}

// save hands Options.Save what changed since its last call. The comparison
// is cheap: exits and exit counts are replaced, never mutated, so identity
// and a few entries tell a change.
func (s *Service) save() {
	if s.opts.Save == nil {
		return
	}
	cur := s.savedNow()
	if sameSaved(s.saved, cur) {
		return
	}
	cur.Hist.Starts = slices.Clone(cur.Hist.Starts)
	s.saved = cur
	s.opts.Save(cur)
}

func sameSaved(a, b Saved) bool {
	return a.State == b.State && a.Wanted == b.Wanted && a.Gen == b.Gen && a.Slot == b.Slot &&
		a.StartedAt.Equal(b.StartedAt) && a.Restarts == b.Restarts && a.Health == b.Health &&
		a.Hist.Attempt == b.Hist.Attempt &&
		slices.EqualFunc(a.Hist.Starts, b.Hist.Starts, time.Time.Equal) &&
		maps.Equal(a.ExitCounts, b.ExitCounts) &&
		sameExits(a.Exits, b.Exits)
}

// sameExits reports whether two exit lists are the same list.
func sameExits(a, b []ExitRecord) bool {
	if len(a) != len(b) {
		return false
	}
	return len(a) == 0 || &a[0] == &b[0]
}

// Restore resumes the service where a previous supervisor core left it. It
// must be called once, before Go, and records nothing in the journal: the
// service did not change, only its supervisor did.
//
// p, when not nil, is the live process of incarnation saved.Gen; it may have
// exited already, and the actor then handles that exit as it would have (policy
// decision on the restored history, exit record, respawn). The service is
// running again if it was, stopping if it was (its stop timeout starts over),
// else starting, its readiness probe re-armed.
//
// Without a process, a failed service stays failed (its cooldown, if any,
// starts over) and a finished one exited; any other is stopped, and start
// says whether it was wanted up: the caller starts it then, through its
// dependencies' gate, with its restart history kept.
func (s *Service) Restore(saved Saved, p Process) (start bool) {
	st := Stopped
	if err := st.UnmarshalText([]byte(saved.State)); err != nil {
		s.lg().Warn("restore: unknown saved state; taking it as stopped", "err", err)
		st = Stopped
	}
	s.wanted, s.gen, s.startedAt, s.restarts = saved.Wanted, saved.Gen, saved.StartedAt, saved.Restarts
	s.genTop, s.slot = saved.Gen, saved.Slot
	s.hist = policy.History{Attempt: saved.Hist.Attempt, Starts: slices.Clone(saved.Hist.Starts)}
	s.exits, s.exitCounts = saved.Exits, saved.ExitCounts
	s.lastExit = nil
	if n := len(s.exits); n > 0 {
		e := s.exits[n-1].Exit
		s.lastExit = &e
	}
	s.since = time.Now()
	s.saved = saved
	s.saved.Hist.Starts = slices.Clone(saved.Hist.Starts)
	if p != nil {
		s.restoreLive(st, saved.Health, p)
	} else {
		switch st {
		case Failed:
			s.state = Failed
			if n := len(s.exits); n > 0 {
				s.errText = s.exits[n-1].Decision
			}
			if s.cfg.Policy.Cooldown > 0 {
				s.arm(EvCooldownElapsed, s.cfg.Policy.Cooldown)
			}
		case Exited:
			s.state = Exited
		default:
			s.state = Stopped
			start = saved.Wanted
			s.keepHistory = start
		}
	}
	s.publish()
	return start
}

// restoreLive takes p back as the current incarnation, in state st.
func (s *Service) restoreLive(st State, health Health, p Process) {
	s.proc, s.live = p, true
	s.running.Store(&liveProc{p})
	// Only output captured elsewhere (the keeper) can be followed; pipes a
	// restored process may hand out were read by the core that started it.
	s.out = nil
	if op, ok := p.(outputProcess); ok {
		s.out = op.Output()
	}
	s.health = health
	ctx, cancel := context.WithCancel(context.Background())
	s.incCancel = cancel
	switch st {
	case Running:
		s.state = Running
		s.watch()
	case Stopping:
		// The stop signal went out before the state was saved; what is
		// left is the wait for the exit, and the kill after the timeout.
		s.state = Stopping
		if ev := s.arm(EvStopTimeout, s.cfg.StopTimeout); ev != nil {
			if err := p.KillTree(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				s.lg().Warn("kill tree", "gen", s.gen, "err", err)
			}
		}
	default:
		s.state = Starting
		if next := s.afterSpawn(ctx); next != nil { // no readiness probe: up at once
			s.state = Running
			s.watch()
		}
	}
}
