package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// Start-first restarts. The replacement runs beside the service's
// incarnation until its readiness probe passes (or at once without one);
// then it becomes the incarnation and the one it replaced is stopped. One
// that cannot start, exits or is not ready in time is stopped and the
// running incarnation stays. The two run under two process names (the
// service's and replacementSuffix's), which take turns, so that the spawn
// of one never clears the other as a leftover.

// ReplacementSuffix marks the process name of the incarnation that is not
// under the service's own name: they alternate at each start-first restart.
const ReplacementSuffix = "~b"

// nextRun is the replacement started beside the running incarnation.
type nextRun struct {
	proc      Process
	gen       uint64
	startedAt time.Time
	out       RunOutput
	cancel    context.CancelFunc // ends its readiness probe
	live      bool
}

// procName is the process name of an incarnation in slot.
func (s *Service) procName(slot bool) string {
	if slot {
		return s.name + ReplacementSuffix
	}
	return s.name
}

// replaceEvent turns a restart of a running service whose strategy is
// start-first into EvReplace: the table starts the replacement first.
func (s *Service) replaceEvent(ev Event) Event {
	if s.cfg.StartFirst && s.cfg.Kind == KindProcess && s.state == Running && s.live && !s.launching {
		return EvReplace
	}
	return ev
}

// newGen returns a generation no incarnation had.
func (s *Service) newGen() uint64 {
	s.genTop = max(s.genTop, s.gen) + 1
	return s.genTop
}

// spawnNext starts the replacement, and its readiness probe.
func (s *Service) spawnNext() *Event {
	// The incarnation replaced (or dropped) last under that name may still
	// finish its requests: spawning over it would kill it as a leftover.
	s.awaitRetired(!s.slot)
	spec := s.cfg.Spec
	spec.Name = s.procName(!s.slot)
	s.errText = ""
	p, err := s.opts.Runner.SpawnOutput(spec, s.opts.Output)
	if err != nil {
		s.errText = "start-first: the replacement could not start: " + err.Error()
		ev := EvNextFailed
		return &ev
	}
	n := &nextRun{proc: p, gen: s.newGen(), startedAt: p.StartedAt(), out: outputOf(p), live: true}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	s.nxt = n
	s.lg().Info("start-first: replacement started", "gen", n.gen, "pid", p.Pid(), "replaces", s.proc.Pid())
	ready := s.cfg.Probes.Ready
	if ready == nil {
		ev := EvNextReady
		return &ev
	}
	inc := Incarnation{Gen: n.gen, Pid: p.Pid(), Process: p, Output: n.out}
	go func() {
		err := ready(ctx, inc)
		if ctx.Err() != nil {
			return
		}
		ev := EvNextReady
		if err != nil {
			ev = EvNextFailed
		}
		_, _ = s.do(ctx, request{op: opProbe, gen: inc.Gen, ev: ev, err: err})
	}()
	return nil
}

// nextProbe takes the replacement's readiness; false when r is not about it.
func (s *Service) nextProbe(r request) bool {
	if s.nxt == nil || r.gen != s.nxt.gen {
		return false
	}
	if r.err != nil {
		s.errText = "start-first: the replacement was not ready: " + r.err.Error()
	}
	s.fire(r.ev)
	return true
}

// nextExited is the replacement's exit before it was ready.
func (s *Service) nextExited() {
	s.nxt.live = false
	s.errText = fmt.Sprintf("start-first: the replacement (pid %d) exited before it was ready: %s", s.nxt.proc.Pid(), s.nxt.proc.Exit())
	s.fire(EvNextFailed)
}

// promote makes the replacement the service's incarnation and stops the
// one it replaced.
func (s *Service) promote() {
	n := s.nxt
	s.nxt = nil
	old, oldCancel, oldGen := s.proc, s.incCancel, s.gen
	if oldCancel != nil {
		oldCancel()
	}
	s.proc, s.gen, s.startedAt, s.out, s.incCancel, s.live = n.proc, n.gen, n.startedAt, n.out, n.cancel, true
	s.running.Store(&liveProc{n.proc})
	s.retired[slotIndex(s.slot)] = old
	s.slot = !s.slot
	s.restarts++
	s.readyFailed, s.probeErr, s.health, s.errText = false, "", HealthUnknown, ""
	s.record(api.Event{Type: api.EventState, Service: s.name, Gen: s.gen, Pid: n.proc.Pid(), From: Running.String(), To: Running.String(),
		Reason: fmt.Sprintf("replaced: pid %d is ready; pid %d (gen %d) stops", n.proc.Pid(), old.Pid(), oldGen)})
	s.retire(old, "replaced")
}

// dropNext stops the replacement: the running incarnation stays.
func (s *Service) dropNext() {
	n := s.nxt
	if n == nil {
		return
	}
	s.nxt = nil
	n.cancel()
	reason := s.errText
	if reason == "" {
		reason = "start-first: the replacement is stopped"
	}
	s.record(api.Event{Type: api.EventState, Service: s.name, Gen: n.gen, Pid: n.proc.Pid(), From: Starting.String(), To: Stopped.String(),
		Reason: reason})
	s.lg().Warn("start-first: replacement dropped", "gen", n.gen, "pid", n.proc.Pid(), "reason", reason)
	s.retired[slotIndex(!s.slot)] = n.proc
	s.retire(n.proc, "dropped")
}

func slotIndex(slot bool) int {
	if slot {
		return 1
	}
	return 0
}

// awaitRetired waits, bounded by the stop timeout that retire enforces,
// until the incarnation last retired under slot's name has exited.
func (s *Service) awaitRetired(slot bool) {
	p := s.retired[slotIndex(slot)]
	if p == nil {
		return
	}
	s.retired[slotIndex(slot)] = nil
	t := time.NewTimer(s.cfg.StopTimeout + treeGoneTimeout)
	defer t.Stop()
	select {
	case <-p.Done():
	case <-t.C:
		s.lg().Warn("start-first: the incarnation replaced before is still there", "pid", p.Pid())
	}
}

// retire stops p away from the actor, as a stop does: the stop signal,
// SIGKILL for its tree after the stop timeout. Its exit is not the service's.
func (s *Service) retire(p Process, why string) {
	sig, timeout, log := s.cfg.StopSignal, s.cfg.StopTimeout, s.lg()
	go func() {
		if err := p.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			log.Warn("stop "+why+" incarnation", "pid", p.Pid(), "err", err)
		}
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-p.Done():
		case <-t.C:
		}
		// Whatever it left goes too.
		if err := p.KillTree(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			log.Warn("kill "+why+" incarnation", "pid", p.Pid(), "err", err)
		}
	}()
}

func (s *Service) record(e api.Event) {
	e.Time = time.Now()
	s.opts.Journal.Record(e)
}
