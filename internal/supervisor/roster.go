package supervisor

import (
	"slices"
	"strings"

	"github.com/respawn-sh/respawn/internal/config"
)

// roster is the set of services of one config, as the loop published it:
// never changed afterwards, so anyone may read it without a lock; a reload
// publishes a new one.
type roster struct {
	cfg     *config.Config
	members []*member // in config order
	byName  map[string]*member
}

func newRoster(cfg *config.Config, members []*member) *roster {
	r := &roster{cfg: cfg, members: members, byName: make(map[string]*member, len(members))}
	for _, m := range members {
		r.byName[m.spec().Name] = m
	}
	return r
}

// inOrder returns the wanted members in the config's start order.
func (r *roster) inOrder(want map[string]bool) []*member {
	var out []*member
	for _, name := range r.cfg.Order() {
		if want[name] {
			out = append(out, r.byName[name])
		}
	}
	return out
}

// resolve maps names to members in config order; empty or "all" means every service.
func (r *roster) resolve(names []string) ([]*member, error) {
	if len(names) == 0 || slices.Contains(names, "all") {
		return slices.Clone(r.members), nil
	}
	var unknown []string
	want := make(map[string]bool, len(names))
	for _, n := range names {
		if _, ok := r.byName[n]; ok {
			want[n] = true
			continue
		}
		// The name of a replicated service stands for all its instances,
		// and @G for every service of group G.
		found := false
		group, isGroup := strings.CutPrefix(n, "@")
		for _, m := range r.members {
			if (!isGroup && m.spec().ReplicaOf == n) || (isGroup && group != "" && m.spec().ServiceGroup == group) {
				want[m.spec().Name] = true
				found = true
			}
		}
		if !found {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, &UnknownServiceError{Names: unknown, Suggestions: r.suggestions(unknown)}
	}
	var list []*member
	for _, m := range r.members {
		if want[m.spec().Name] {
			list = append(list, m)
		}
	}
	return list, nil
}

// suggestions maps each unknown name to the service name, replicated
// service or @group it is a typo of, where there is one.
func (r *roster) suggestions(unknown []string) map[string]string {
	var known []string
	seen := map[string]bool{}
	add := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			known = append(known, n)
		}
	}
	for _, m := range r.members {
		add(m.spec().Name)
		add(m.spec().ReplicaOf)
		if g := m.spec().ServiceGroup; g != "" {
			add("@" + g)
		}
	}
	out := map[string]string{}
	for _, n := range unknown {
		if s := config.Suggest(n, known); s != "" {
			out[n] = s
		}
	}
	return out
}
