package supervisor

import (
	"time"

	"github.com/respawn-sh/respawn/internal/service"
)

// Usage is a process tree's CPU time and memory; OK is false when it could
// not be measured.
type Usage struct {
	CPU time.Duration
	Mem uint64
	OK  bool
}

// UsageMeter is a Runner that measures many processes at once: the
// keeper's does it in a round trip per few hundred, where one at a time
// would take one each. The result is in the order of ps.
type UsageMeter interface {
	Usages(ps []service.Process) []Usage
}

// usages measures the live process of each member, at once when the
// runner can; a member without one gets a Usage that is not OK.
func (s *Supervisor) usages(members []*member) []Usage {
	out := make([]Usage, len(members))
	var ps []service.Process
	var at []int
	for i, m := range members {
		if p, ok := m.svc.Live(); ok {
			ps = append(ps, p)
			at = append(at, i)
		}
	}
	if len(ps) == 0 {
		return out
	}
	if meter, ok := s.opts.Runner.(UsageMeter); ok {
		for j, u := range meter.Usages(ps) {
			out[at[j]] = u
		}
		return out
	}
	for j, p := range ps {
		if u, ok := p.(usager); ok {
			cpu, mem, err := u.Usage()
			out[at[j]] = Usage{CPU: cpu, Mem: mem, OK: err == nil}
		}
	}
	return out
}
