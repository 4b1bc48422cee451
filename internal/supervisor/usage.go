package supervisor

import (
	"time"

	"github.com/respawn-sh/respawn/internal/service"
)

// usageSample is a service's CPU time and memory as last measured for status.
type usageSample struct {
	at      time.Time
	started time.Time // the run measured: a new run starts afresh
	cpu     time.Duration
	mem     uint64
	percent float64
}

// minUsageWindow is the shortest time over which a CPU percentage is
// measured: two status calls closer than that share the earlier figures,
// CPU and memory, and the later one does not measure again.
const minUsageWindow = 250 * time.Millisecond

// recentUsage returns the sample of the run that began at started when it
// was taken less than minUsageWindow before now, nil otherwise.
func (m *member) recentUsage(now, started time.Time) *usageSample {
	prev := m.usage.Load()
	if prev == nil || !prev.started.Equal(started) || now.Sub(prev.at) >= minUsageWindow || now.Before(prev.at) {
		return nil
	}
	return prev
}

// cpuPercent turns the CPU time cpu, measured at now, of the run that began
// at started into a percentage of one CPU: over the time since the previous
// measurement of the same run, or since the run began for the first one.
// mem is kept with it for the calls that share the sample.
func (m *member) cpuPercent(now, started time.Time, cpu time.Duration, mem uint64) float64 {
	prev := m.usage.Load()
	var pct float64
	switch {
	case prev == nil || !prev.started.Equal(started) || cpu < prev.cpu:
		if up := now.Sub(started); up > 0 {
			pct = 100 * cpu.Seconds() / up.Seconds()
		}
	case now.Sub(prev.at) < minUsageWindow:
		return prev.percent
	default:
		pct = 100 * (cpu - prev.cpu).Seconds() / now.Sub(prev.at).Seconds()
	}
	// Concurrent status calls may race here: either sample is a good one.
	m.usage.Store(&usageSample{at: now, started: started, cpu: cpu, mem: mem, percent: pct})
	return pct
}

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
