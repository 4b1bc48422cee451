package service

import (
	"context"
	"errors"
	"os"
	"time"
)

// Starting a run: the gate, the spawn or launch, adoption of what a launcher
// or an external leaves, and the probes that follow.

// spawn starts a new incarnation unless what the service depends on is not
// satisfied: then it is held (EvGateClosed), spending none of its restart budget.
func (s *Service) spawn(isRestart bool) *Event {
	if ok, w := s.opts.Gate(); !ok {
		s.waitingOn = w
		ev := EvGateClosed
		return &ev
	}
	s.waitingOn = Wait{}
	if isRestart || s.restartDue {
		s.restarts++
	}
	s.restartDue = false
	if s.cfg.Probes.Prepare != nil {
		s.cfg.Probes.Prepare()
	}
	if s.cfg.Kind == KindExternal {
		// Adopt it if it runs already; its start command comes only if not.
		s.gen = s.newGen()
		s.startedAt = time.Now()
		s.hist.RecordStart(s.cfg.Policy, s.startedAt)
		s.lookFor(false)
		return nil
	}
	return s.launch()
}

// lookFor asks Find, off the actor, for the current incarnation's process.
func (s *Service) lookFor(afterLaunch bool) {
	gen, find := s.gen, s.cfg.Find
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), findTimeout)
		defer cancel()
		p, err := find(ctx, afterLaunch)
		_, _ = s.do(context.Background(), request{op: opFound, gen: gen, found: p, err: err, after: afterLaunch})
	}()
}

// findTimeout bounds the search for a daemon or an external process.
const findTimeout = 15 * time.Second

// found takes Find's answer: the process is adopted as the incarnation, or,
// for an external service not running yet, its start command is launched.
func (s *Service) found(r request) {
	if r.gen != s.gen || s.state != Starting || s.live {
		return // about an incarnation that is over
	}
	if r.err == nil {
		s.proc, s.live = r.found, true
		s.running.Store(&liveProc{r.found})
		ctx, cancel := context.WithCancel(context.Background())
		s.incCancel = cancel
		if next := s.afterSpawn(ctx); next != nil {
			s.fire(*next)
		}
		s.publish()
		return
	}
	s.errText = r.err.Error()
	if !r.after && len(s.cfg.Spec.Args) > 0 {
		if next := s.launch(); next != nil { // the external's start command
			s.fire(*next)
		}
		s.publish()
		return
	}
	// Nothing to adopt: for an external without a start command that is a
	// failure to start; after a launch, the daemon never showed up, and
	// whatever the launch left behind goes.
	if r.after && s.proc != nil {
		if err := s.proc.KillTree(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			s.lg().Warn("kill what the launcher left", "err", err)
		}
	}
	s.fire(EvSpawnFailed)
}

// launch spawns Spec: the service itself, or the launcher that starts it.
func (s *Service) launch() *Event {
	spec := s.cfg.Spec
	spec.Name = s.procName(s.slot)
	p, err := s.opts.Runner.SpawnOutput(spec, s.opts.Output)
	if err != nil {
		s.proc = nil
		s.errText = err.Error()
		ev := EvSpawnFailed
		return &ev
	}
	if s.cfg.Kind != KindExternal { // an external's launcher belongs to the attempt in progress
		s.gen = s.newGen()
		s.startedAt = p.StartedAt()
		s.hist.RecordStart(s.cfg.Policy, s.startedAt)
	}
	s.proc, s.live = p, true
	s.running.Store(&liveProc{p})
	s.out = outputOf(p)
	s.readyFailed, s.probeErr, s.health = false, "", HealthUnknown
	ctx, cancel := context.WithCancel(context.Background())
	s.incCancel = cancel
	if s.cfg.Find != nil {
		s.launching = true
		return nil // starting until the launcher has done its job
	}
	return s.afterSpawn(ctx)
}

// afterSpawn starts the readiness probe of the live process, if any; without
// one the service is running at once.
func (s *Service) afterSpawn(ctx context.Context) *Event {
	if ready := s.cfg.Probes.Ready; ready != nil {
		inc := s.incarnation()
		go func() {
			err := ready(ctx, inc)
			if ctx.Err() != nil {
				return // the incarnation ended first
			}
			ev := EvReady
			if err != nil {
				ev = EvReadyFailed
			}
			_, _ = s.do(ctx, request{op: opProbe, gen: inc.Gen, ev: ev, err: err})
		}()
		return nil // starting until the probe answers
	}
	ev := EvSpawned
	return &ev
}

func (s *Service) incarnation() Incarnation {
	return Incarnation{Gen: s.gen, Pid: s.proc.Pid(), Process: s.proc, Output: s.out}
}

// watch starts the liveness check of the current incarnation, once it runs.
func (s *Service) watch() {
	w := s.cfg.Probes.Watch
	if w == nil || !s.live || s.incCancel == nil {
		return
	}
	inc := s.incarnation()
	ctx, cancel := context.WithCancel(context.Background())
	parent := s.incCancel
	s.incCancel = func() { cancel(); parent() }
	report := func(healthy bool, err error) {
		_, _ = s.do(ctx, request{op: opHealth, gen: inc.Gen, healthy: healthy, err: err})
	}
	unhealthy := func(err error) {
		_, _ = s.do(ctx, request{op: opProbe, gen: inc.Gen, ev: EvUnhealthy, err: err})
	}
	go w(ctx, inc, report, unhealthy)
}
