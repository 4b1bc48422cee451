package service

import (
	"context"
	"maps"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/policy"
	"github.com/respawn-sh/respawn/internal/proc"
)

// An ended run: what the exit means, its record and its last lines.

// exited classifies the exit of the current incarnation into an event.
func (s *Service) exited() {
	now := time.Now()
	s.live = false
	s.running.Store(nil)
	if s.incCancel != nil {
		s.incCancel()
		s.incCancel = nil
	}
	e := s.proc.Exit()
	if s.launching {
		s.launching = false
		if s.state == Starting && e.Signal == 0 && e.Code == 0 {
			s.lookFor(true) // the launcher did its job: find what it started
			return
		}
	}
	s.lastExit = &e
	rec := ExitRecord{Gen: s.gen, Pid: s.proc.Pid(), StartedAt: s.startedAt, Exit: e}
	if o, ok := s.proc.(oomReporter); ok && e.Signal == int(syscall.SIGKILL) {
		rec.OOM = o.OOMKilled()
	}
	var ev Event
	switch {
	case s.state == Stopping && !s.readyFailed:
		// The table starts the next run if the service is wanted up; the
		// record says which it will be.
		ev = EvExitStopped
		rec.Decision = "stopped"
		if s.wanted {
			rec.Decision = "stopped for restart"
			if s.restartDue {
				rec.Decision = "restarted: unhealthy: " + s.probeErr
			}
		}
	default:
		pe := policy.Exit{Code: e.Code, Signal: e.Signal}
		if s.readyFailed && s.cfg.Policy.IsSuccess(pe) {
			// A clean exit on the stop signal does not make a start that
			// never became ready a success: the policy sees the stop.
			pe = policy.Exit{Signal: int(s.cfg.StopSignal)}
		}
		s.decision = policy.Decide(s.cfg.Policy, &s.hist, pe, s.startedAt, now, s.opts.Rand())
		if e.Unknown {
			// Not our child: its status is not ours to read; it ended, and
			// nobody asked it to.
			s.decision.Reason = "exited (status unknown: not respawn's child); " + s.decision.Reason
		}
		if s.readyFailed {
			// Killed because it never became ready: a failed start.
			s.decision.Reason = "not ready: " + s.probeErr + "; " + s.decision.Reason
		}
		rec.Decision = s.decision.Reason
		switch s.decision.Action {
		case policy.Restart:
			ev = EvExitRestart
		case policy.Done:
			ev = EvExitDone
		default:
			ev = EvExitFail
		}
	}
	s.exits = appendExit(s.exits, rec)
	s.collectTail(rec.Gen)
	reason := exitReason(ev, e, s.cfg.Policy)
	counts := make(map[string]uint64, len(s.exitCounts)+1)
	maps.Copy(counts, s.exitCounts)
	counts[reason]++
	s.exitCounts = counts
	xe := api.Event{Type: api.EventExit, Service: s.cfg.Name, Gen: s.gen, Pid: rec.Pid, Reason: rec.Decision, OOM: rec.OOM}
	setExit(&xe, e)
	s.opts.Journal.Record(xe)
	if ev == EvExitRestart || ev == EvExitFail {
		s.opts.Journal.Record(api.Event{Type: api.EventRespawn, Service: s.cfg.Name, Gen: s.gen,
			Reason: s.decision.Reason, DelayMS: s.decision.Delay.Milliseconds(), Attempt: s.hist.Attempt})
	}
	s.fire(ev)
}

// exitReason sorts an exit for the exits counter: "stopped" (we asked),
// "signal" (killed otherwise), "success" or "failure" (by the success codes).
func exitReason(ev Event, e proc.Exit, p policy.Params) string {
	switch {
	case ev == EvExitStopped:
		return "stopped"
	case e.Signal != 0:
		return "signal"
	case p.IsSuccess(policy.Exit{Code: e.Code}):
		return "success"
	}
	return "failure"
}

// setExit fills an event's exit code or signal.
func setExit(ev *api.Event, e proc.Exit) {
	if e.Signal != 0 {
		ev.Signal = unix.SignalName(syscall.Signal(e.Signal))
		return
	}
	code := e.Code
	ev.ExitCode = &code
}

// collectTail waits, off the actor, for the run's output to be drained (its
// pipes reach EOF once the tree is gone), then files the run's last lines.
func (s *Service) collectTail(gen uint64) {
	out := s.out
	s.out = nil
	if out == nil {
		return
	}
	go func() {
		timeout := time.NewTimer(tailWait)
		defer timeout.Stop()
		select {
		case <-out.Drained():
		case <-timeout.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), tailWait)
		defer cancel()
		_, _ = s.do(ctx, request{op: opTail, gen: gen, lines: out.Lines()})
	}()
}

// fileTail puts a run's last lines into its exit record.
func (s *Service) fileTail(gen uint64, lines []logs.Line) {
	for i := range s.exits {
		if s.exits[i].Gen == gen {
			exits := slices.Clone(s.exits)
			exits[i].LastLines = lines
			s.exits = exits
			s.publish()
			return
		}
	}
}

func appendExit(list []ExitRecord, r ExitRecord) []ExitRecord {
	// Copy on write: published snapshots share the old slice.
	n := len(list) + 1
	if n > maxExits {
		n = maxExits
	}
	out := make([]ExitRecord, 0, n)
	if len(list) >= maxExits {
		list = list[len(list)-maxExits+1:]
	}
	out = append(out, list...)
	return append(out, r)
}
