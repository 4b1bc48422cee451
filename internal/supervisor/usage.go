package supervisor

import (
	"time"
)

// usageSample is a service's CPU time as last measured for status.
type usageSample struct {
	at      time.Time
	started time.Time // the run measured: a new run starts afresh
	cpu     time.Duration
	percent float64
}

// minUsageWindow is the shortest time over which a CPU percentage is
// measured: two status calls closer than that share the earlier figure.
const minUsageWindow = 250 * time.Millisecond

// cpuPercent turns the CPU time cpu, measured at now, of the run that began
// at started into a percentage of one CPU: over the time since the previous
// measurement of the same run, or since the run began for the first one.
func (m *member) cpuPercent(now, started time.Time, cpu time.Duration) float64 {
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
	m.usage.Store(&usageSample{at: now, started: started, cpu: cpu, percent: pct})
	return pct
}
