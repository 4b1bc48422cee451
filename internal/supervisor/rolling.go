package supervisor

import (
	"context"
	"sync"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
)

// rollingGroups sorts out the replicas of start-first services, which a
// restart rolls through, from the members restarted all at once.
func rollingGroups(members []*member) (rolls [][]*member, rest []*member) {
	byName := map[string]int{}
	for _, m := range members {
		sc := m.spec()
		if sc.ReplicaOf == "" || sc.Restart.Strategy != config.StartFirst {
			rest = append(rest, m)
			continue
		}
		i, ok := byName[sc.ReplicaOf]
		if !ok {
			i = len(rolls)
			byName[sc.ReplicaOf] = i
			rolls = append(rolls, nil)
		}
		rolls[i] = append(rolls[i], m)
	}
	return rolls, rest
}

// roll restarts each group's replicas max_unavailable at a time, each batch
// once the one before is ready; the other members are restarted meanwhile,
// all at once. A batch that fails ends its group's roll: the replicas after
// it keep their incarnations. Results come in the order of members.
func (s *Supervisor) roll(ctx context.Context, members []*member, rolls [][]*member, rest []*member) []api.Result {
	var mu sync.Mutex // guards byName
	byName := map[string]api.Result{}
	put := func(rs []api.Result) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			byName[r.Name] = r
		}
	}
	var wg sync.WaitGroup
	if len(rest) > 0 {
		wg.Go(func() { put(s.actAll(ctx, rest, actRestart)) })
	}
	for _, g := range rolls {
		wg.Go(func() {
			batch := max(g[0].spec().Restart.MaxUnavailable, 1)
			for i := 0; i < len(g); i += batch {
				rs := s.actAll(ctx, g[i:min(i+batch, len(g))], actRestart)
				put(rs)
				failed := ""
				for _, r := range rs {
					if r.Error != "" {
						failed = r.Name
						break
					}
				}
				if failed == "" {
					continue
				}
				for _, m := range g[min(i+batch, len(g)):] {
					snap := m.svc.Snapshot()
					put([]api.Result{{Name: snap.Name, State: snap.State.String(), Pid: snap.Pid,
						Error: "not restarted: the rolling restart stopped at " + failed}})
				}
				return
			}
		})
	}
	wg.Wait()
	out := make([]api.Result, 0, len(members))
	for _, m := range members {
		if r, ok := byName[m.spec().Name]; ok {
			out = append(out, r)
		}
	}
	return out
}
