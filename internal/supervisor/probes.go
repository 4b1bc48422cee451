package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/health"
	"github.com/respawn-sh/respawn/internal/proc"
	"github.com/respawn-sh/respawn/internal/service"
)

// probes builds a service's readiness and liveness checks from its config;
// n is the service's sd_notify endpoint, nil when it uses none.
func (s *Supervisor) probes(sc *config.Service, n *health.Notify) service.Probes {
	var p service.Probes
	if n != nil {
		p.Prepare = n.Reset
	}
	if r := sc.Ready; r != nil {
		if r.Notify && n != nil {
			deadline := r.Deadline
			p.Ready = func(ctx context.Context, _ service.Incarnation) error {
				return waitNotify(ctx, n, deadline)
			}
		} else if r.Log != nil {
			re, deadline := r.Log, r.Deadline
			p.Ready = func(ctx context.Context, inc service.Incarnation) error {
				return health.WaitLog(ctx, inc.Output, re, deadline)
			}
		} else {
			check, interval, timeout, deadline := s.check(sc, r), r.Interval, r.Timeout, r.Deadline
			p.Ready = func(ctx context.Context, _ service.Incarnation) error {
				return health.WaitReady(ctx, check, interval, timeout, deadline)
			}
		}
	}
	if h := sc.Health; h != nil {
		var check health.Check
		if h.HTTP != "" || h.TCP != "" || len(h.Exec) > 0 {
			check = s.check(sc, h)
		}
		p.Watch = func(ctx context.Context, inc service.Incarnation, report func(bool, error), unhealthy func(error)) {
			var once sync.Once
			restart := func(err error) { once.Do(func() { unhealthy(err) }) }
			var wg sync.WaitGroup
			if check != nil {
				wg.Go(func() { health.Watch(ctx, check, h.Interval, h.Timeout, h.Failures, report, restart) })
			}
			if h.MemoryMax > 0 {
				wg.Go(func() { watchMemory(ctx, inc.Process, h.MemoryMax, h.Interval, restart) })
			}
			if h.Watchdog > 0 && n != nil {
				wg.Go(func() { health.WatchPings(ctx, n.Pings(), h.Watchdog, restart) })
			}
			wg.Wait()
		}
	}
	return p
}

// check turns a probe block into one attempt.
func (s *Supervisor) check(sc *config.Service, pr *config.Probe) health.Check {
	switch {
	case pr.HTTP != "":
		return health.HTTP(pr.HTTP)
	case pr.TCP != "":
		return health.TCP(pr.TCP)
	default:
		return health.Exec(s.execRunner(sc), pr.Exec)
	}
}

// execRunner runs a probe command as the service would run (its environment,
// directory and credentials), through the same spawner, so its exit is reaped
// like any other. A probe that outlives its timeout is killed, tree and all.
func (s *Supervisor) execRunner(sc *config.Service) health.Runner {
	return func(ctx context.Context, argv []string) error {
		p, err := s.opts.Runner.Spawn(proc.Spec{
			Name:    sc.Name + ".probe",
			Args:    argv,
			BaseEnv: s.opts.Environ,
			Env:     append(append([]string(nil), sc.Env...), "RESPAWN_SERVICE="+sc.Name),
			Dir:     sc.Cwd,
			User:    sc.User,
			Group:   sc.Group,
		})
		if err != nil {
			return err
		}
		// Drain its output: a probe must never die of a full or closed pipe.
		for _, f := range []*os.File{p.Stdout(), p.Stderr()} {
			go func() {
				_, _ = io.Copy(io.Discard, f)
				f.Close()
			}()
		}
		select {
		case <-p.Done():
		case <-ctx.Done():
			_ = p.KillTree()
			<-p.Done()
			return fmt.Errorf("probe %q: %w", argv[0], ctx.Err())
		}
		_ = p.KillTree() // whatever it left behind
		e := p.Exit()
		switch {
		case e.Signal != 0:
			return fmt.Errorf("probe %q: %s", argv[0], e)
		case e.Code != 0:
			return fmt.Errorf("probe %q: exit status %d", argv[0], e.Code)
		}
		return nil
	}
}

// usager measures a process tree.
type usager interface {
	Usage() (cpu time.Duration, memBytes uint64, err error)
}

// watchMemory restarts the service once its tree holds more than max bytes,
// checking every interval while the run lasts.
func watchMemory(ctx context.Context, p service.Process, max int64, interval time.Duration, restart func(error)) {
	u, ok := p.(usager)
	if !ok {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, mem, err := u.Usage()
		if errors.Is(err, os.ErrProcessDone) {
			return
		}
		if err == nil && mem > uint64(max) {
			restart(fmt.Errorf("memory %d bytes is over memory_max %d", mem, max))
			return
		}
	}
}

// waitNotify waits for READY=1 on the service's notify socket.
func waitNotify(ctx context.Context, n *health.Notify, deadline time.Duration) error {
	var expire <-chan time.Time
	if deadline > 0 {
		t := time.NewTimer(deadline)
		defer t.Stop()
		expire = t.C
	}
	select {
	case <-n.Ready():
		return nil
	case <-expire:
		if k, last := n.RunDrops(); k > 0 {
			// Most often why: a READY=1 came from a process not taken for the service's.
			return fmt.Errorf("%w: no READY=1 within %s (%d messages dropped, the last: %s)",
				health.ErrDeadline, deadline, k, last.Reason)
		}
		return fmt.Errorf("%w: no READY=1 within %s", health.ErrDeadline, deadline)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// usesNotify reports whether a service needs an sd_notify socket.
func usesNotify(sc *config.Service) bool {
	return (sc.Ready != nil && sc.Ready.Notify) || (sc.Health != nil && (sc.Health.Notify || sc.Health.Watchdog > 0))
}
