package service

import (
	"context"
	"errors"
	"io"
	"os"
)

// Stopping a run: its stop signal or command, and waiting for its tree to go.

// signalStop asks the live process to stop. With none (an external service
// still being looked for), the stop is complete at once.
func (s *Service) signalStop() *Event {
	if !s.live {
		ev := EvExitStopped
		return &ev
	}
	if len(s.cfg.StopCommand) > 0 {
		s.runStopCommand()
	} else if err := s.proc.Signal(s.cfg.StopSignal); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.lg().Warn("stop signal", "gen", s.gen, "pid", s.proc.Pid(), "err", err)
	}
	s.arm(EvStopTimeout, s.cfg.StopTimeout)
	return nil
}

// runStopCommand runs the stop command, spawned like the service, and lets
// it run: the service's own exit (or the stop timeout) ends the stop.
func (s *Service) runStopCommand() {
	spec := s.cfg.Spec
	spec.Name, spec.Args = s.cfg.Name+".stop", s.cfg.StopCommand
	spec.Listen = nil // the service's sockets are the service's
	p, err := s.opts.Runner.Spawn(spec)
	if err != nil {
		s.lg().Warn("stop command", "err", err)
		return
	}
	for _, f := range []*os.File{p.Stdout(), p.Stderr()} {
		if f != nil {
			go func() {
				_, _ = io.Copy(io.Discard, f)
				f.Close()
			}()
		}
	}
}

func (s *Service) awaitTreeGone() {
	if s.proc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), treeGoneTimeout)
	defer cancel()
	if err := s.proc.WaitTreeGone(ctx); err != nil {
		s.lg().Warn("process tree still alive after kill", "gen", s.gen, "err", err)
	}
}
