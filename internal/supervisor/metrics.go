package supervisor

import (
	"github.com/respawn-sh/respawn/internal/metrics"
	"github.com/respawn-sh/respawn/internal/service"
)

// Samples gives every service's figures for a metrics scrape, read from
// snapshots and, for live processes, measured now.
func (s *Supervisor) Samples() []metrics.Sample {
	members := s.roster.Load().members
	out := make([]metrics.Sample, 0, len(members))
	used := s.usages(members)
	for i, m := range members {
		sn := m.svc.Snapshot()
		smp := metrics.Sample{
			Service:    sn.Name,
			State:      sn.State.String(),
			Up:         sn.State == service.Running,
			Restarts:   sn.Restarts,
			Exits:      sn.ExitCounts,
			StartTime:  sn.StartedAt,
			LogDropped: m.logDropped(),
		}
		if u := used[i]; u.OK {
			smp.CPUSeconds, smp.MemoryBytes, smp.HasUsage = u.CPU.Seconds(), u.Mem, true
		}
		out = append(out, smp)
	}
	return out
}
