package supervisor

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/service"
)

// The supervisor owns the dependency graph. Services never wait on each other:
// before each spawn an actor asks its gate, which reads the snapshots of what it
// depends on; a held service goes to `waiting`. Every published change wakes the
// coordinator, which releases waiting services whose gate has opened and
// restarts dependents whose `restart: true` dependency came back as a new
// incarnation.

// satisfied reports whether dep's snapshot meets cond.
func satisfied(cond config.Condition, dep service.Snapshot, depSpec *config.Service) bool {
	switch cond {
	case config.CondCompleted:
		return dep.State == service.Exited && dep.LastExit != nil && dep.LastExit.Signal == 0 &&
			slices.Contains(depSpec.Restart.SuccessCodes, dep.LastExit.Code)
	case config.CondStarted: // spawned, ready or not
		return (dep.State == service.Starting && dep.Pid != 0) || dep.State == service.Running || (dep.State == service.Exited && dep.Gen > 0)
	default: // ready: running means its readiness probe (if any) passed
		return dep.State == service.Running || (dep.State == service.Exited && dep.Gen > 0)
	}
}

// gate returns the function a service's actor asks before each spawn.
func (s *Supervisor) gate(name string) func() (bool, service.Wait) {
	return func() (bool, service.Wait) {
		r := s.roster.Load()
		m := r.byName[name]
		if m == nil {
			return true, service.Wait{}
		}
		var waits []string
		stuck := false
		for _, d := range m.spec().DependsOn {
			dm := r.byName[d.Name]
			if dm == nil {
				continue
			}
			sn := dm.svc.Snapshot()
			if !satisfied(d.Condition, sn, dm.spec()) {
				waits = append(waits, fmt.Sprintf("%s to be %s (it is %s%s)", d.Name, d.Condition, sn.State, errSuffix(sn)))
				stuck = stuck || hopeless(sn)
			}
		}
		if len(waits) > 0 {
			return false, service.Wait{On: "waiting for " + strings.Join(waits, ", "), Blocked: stuck}
		}
		return true, service.Wait{}
	}
}

func hopeless(dep service.Snapshot) bool {
	switch dep.State {
	case service.Failed:
		return dep.NextRetryAt.IsZero()
	case service.Stopped, service.Exited:
		return !dep.Wanted || dep.State == service.Exited
	}
	return false
}

func errSuffix(sn service.Snapshot) string {
	if sn.Error != "" && (sn.State == service.Failed || sn.State == service.Backoff) {
		return ": " + sn.Error
	}
	return ""
}

// wakeCoordinator is every actor's Notify: it never blocks.
func (s *Supervisor) wakeCoordinator() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// coordinate reacts to a published change (on the loop): it releases
// waiting services whose gate opened or reads differently, and restarts
// dependents whose `restart: true` dependency came back as a new
// incarnation. seen[dependent][dependency] is the dependency's incarnation
// the dependent last started against.
func (s *Supervisor) coordinate(ctx context.Context, seen map[string]map[string]uint64) {
	r := s.roster.Load()
	for _, m := range r.members {
		if len(m.spec().DependsOn) == 0 {
			continue
		}
		sn := m.svc.Snapshot()
		if sn.State == service.Waiting && sn.Wanted {
			// Note what it will start against: a dependency may spawn
			// its first incarnation while this one waits.
			s.followRestarts(ctx, m, sn, r.byName, seen)
			// Released when the gate opens, and also when it stays
			// closed but reads differently: what a waiting service shows
			// names its dependencies' current states.
			if ok, w := s.gate(m.spec().Name)(); ok || w != (service.Wait{On: sn.WaitingOn, Blocked: sn.Blocked}) {
				go m.svc.Release(ctx)
			}
			continue
		}
		s.followRestarts(ctx, m, sn, r.byName, seen)
	}
}

// followRestarts restarts m once a `restart: true` dependency has run a new
// incarnation and is satisfied again.
func (s *Supervisor) followRestarts(ctx context.Context, m *member, sn service.Snapshot, byName map[string]*member, seen map[string]map[string]uint64) {
	marks := seen[m.spec().Name]
	if marks == nil {
		marks = map[string]uint64{}
		seen[m.spec().Name] = marks
	}
	restart := false
	for _, d := range m.spec().DependsOn {
		dm := byName[d.Name]
		if dm == nil || !d.Restart {
			continue
		}
		dsn := dm.svc.Snapshot()
		last, known := marks[d.Name]
		if !known || sn.State != service.Running {
			// Not running: whatever it starts next is started against the
			// dependency as it is then.
			marks[d.Name] = dsn.Gen
			continue
		}
		if dsn.Gen > last && satisfied(d.Condition, dsn, dm.spec()) {
			marks[d.Name] = dsn.Gen
			restart = true
		}
	}
	if restart {
		s.log.Info("restarting after its dependency restarted", "service", m.spec().Name)
		go m.svc.Restart(ctx)
	}
}

// withDependencies returns list plus everything its members need, directly or
// not, in start order.
func (r *roster) withDependencies(list []*member) []*member {
	want := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		if want[name] {
			return
		}
		want[name] = true
		if m := r.byName[name]; m != nil {
			for _, d := range m.spec().DependsOn {
				visit(d.Name)
			}
		}
	}
	for _, m := range list {
		visit(m.spec().Name)
	}
	return r.inOrder(want)
}

// withDependents returns list plus everything that needs its members, directly
// or not, in start order (callers stop them in reverse).
func (r *roster) withDependents(list []*member) []*member {
	want := map[string]bool{}
	for _, m := range list {
		want[m.spec().Name] = true
	}
	for changed := true; changed; {
		changed = false
		for _, m := range r.members {
			if want[m.spec().Name] {
				continue
			}
			for _, d := range m.spec().DependsOn {
				if want[d.Name] {
					want[m.spec().Name] = true
					changed = true
					break
				}
			}
		}
	}
	return r.inOrder(want)
}

// stopInOrder stops members so that a service stops only after everything
// that depends on it (among members) is down; independent services stop in
// parallel. Results come back in the members' order.
func (s *Supervisor) stopInOrder(ctx context.Context, members []*member) []api.Result {
	in := map[string]bool{}
	for _, m := range members {
		in[m.spec().Name] = true
	}
	dependents := map[string][]string{}
	done := map[string]chan struct{}{}
	for _, m := range members {
		done[m.spec().Name] = make(chan struct{})
		for _, d := range m.spec().DependsOn {
			if in[d.Name] {
				dependents[d.Name] = append(dependents[d.Name], m.spec().Name)
			}
		}
	}
	results := make([]api.Result, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Go(func() {
			for _, d := range dependents[m.spec().Name] {
				select {
				case <-done[d]:
				case <-ctx.Done():
				}
			}
			results[i] = s.act(ctx, []*member{m}, actStop)[0]
			close(done[m.spec().Name])
		})
	}
	wg.Wait()
	return results
}
