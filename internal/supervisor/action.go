package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/service"
)

type action uint8

const (
	actStart action = iota
	actStop
	actRestart
)

// startWait bounds how long start waits for a service to come up. Without a
// readiness probe a service is up as soon as it is spawned, so this only
// matters for oneshots, which are awaited until they finish.
const startWait = 5 * time.Minute

// act sends the action to each service in the given order, then waits for all of
// them in parallel. Sending is quick (the actor applies it and replies), so the
// order is the order in which the services see the command.
func (s *Supervisor) act(ctx context.Context, members []*member, a action) []api.Result {
	if a == actRestart {
		if rolls, rest := rollingGroups(members); len(rolls) > 0 {
			return s.roll(ctx, members, rolls, rest)
		}
	}
	return s.actAll(ctx, members, a)
}

// actAll is act without the roll: every member at once.
func (s *Supervisor) actAll(ctx context.Context, members []*member, a action) []api.Result {
	type pending struct {
		svc    *service.Service
		spec   *config.Service
		seq    uint64
		before service.Snapshot
		err    error
	}
	ps := make([]pending, len(members))
	for i, m := range members {
		svc := m.svc
		p := pending{svc: svc, spec: m.spec(), before: svc.Snapshot()}
		switch a {
		case actStart:
			p.seq, p.err = svc.Start(ctx)
		case actStop:
			p.seq, p.err = svc.Stop(ctx)
		case actRestart:
			p.seq, p.err = svc.Restart(ctx)
		}
		ps[i] = p
	}
	results := make([]api.Result, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() {
			err := p.err
			if err == nil {
				wctx, cancel := context.WithTimeout(ctx, waitBound(p.spec, a))
				err = p.svc.Await(wctx, p.seq, target(a, p.svc.Kind(), p.before))
				cancel()
			}
			snap := p.svc.Snapshot()
			r := api.Result{Name: snap.Name, State: snap.State.String(), Pid: snap.Pid}
			if err != nil {
				r.Error = err.Error()
			}
			results[i] = r
		})
	}
	wg.Wait()
	return results
}

func waitBound(spec *config.Service, a action) time.Duration {
	stop := spec.Stop.Timeout + 2*treeSlack
	switch a {
	case actStop:
		return stop
	case actRestart:
		return stop + startWait
	default:
		return startWait
	}
}

// treeSlack covers the kill and the wait for the tree to vanish after the stop timeout.
const treeSlack = 10 * time.Second

// target returns the predicate that says when an action is complete, and
// whether it succeeded.
func target(a action, kind service.Kind, before service.Snapshot) func(service.Snapshot) (bool, error) {
	switch a {
	case actStop:
		return func(sn service.Snapshot) (bool, error) {
			switch sn.State {
			case service.Stopped, service.Exited, service.Failed:
				return true, nil
			}
			return false, nil
		}
	default:
		// A restart must see a new incarnation; a start of a service that was
		// already up is satisfied by the current one.
		minGen := before.Gen
		if a == actRestart || !before.State.Up() {
			minGen = before.Gen + 1
		}
		return func(sn service.Snapshot) (bool, error) {
			switch sn.State {
			case service.Running:
				if a == actRestart && sn.Gen < minGen && sn.NextPid == 0 && sn.Error != "" {
					// Start-first: the replacement failed, the incarnation
					// before it still serves.
					return true, errors.New(sn.Error)
				}
				if kind == service.KindOneshot || sn.Gen < minGen {
					return false, nil
				}
				return true, nil
			case service.Exited:
				if sn.Gen < minGen {
					return false, nil
				}
				return true, nil
			case service.Failed:
				return true, errors.New(sn.Error) // the state, failed, is printed beside it
			case service.Backoff:
				if sn.Gen < minGen {
					return false, nil
				}
				return true, fmt.Errorf("exited (%s); %s", lastExitText(sn), sn.Error)
			case service.Stopped:
				return true, fmt.Errorf("stopped before it came up")
			case service.Waiting:
				if sn.Blocked {
					return true, errors.New("blocked: " + sn.WaitingOn)
				}
			}
			return false, nil
		}
	}
}

func lastExitText(sn service.Snapshot) string {
	if sn.LastExit == nil {
		return "no exit"
	}
	return sn.LastExit.String()
}
