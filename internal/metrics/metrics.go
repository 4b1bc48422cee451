// Package metrics exposes the supervisor's services to Prometheus, computed when scraped.
package metrics

import (
	"bytes"
	"net/http"
	"slices"
	"time"
)

// Sample is one service as a scrape sees it.
type Sample struct {
	Service string
	// State is one of States.
	State string
	// Up is true while the service's process runs.
	Up       bool
	Restarts int
	// Exits counts exits by reason: "success", "failure", "signal", "stopped".
	Exits map[string]uint64
	// StartTime is when the current or last run started; zero before the first.
	StartTime time.Time
	// CPUSeconds and MemoryBytes cover the whole process tree; they are
	// meaningful only when HasUsage is true.
	CPUSeconds  float64
	MemoryBytes uint64
	HasUsage    bool
	// LogDropped counts the lines its log could not write.
	LogDropped uint64
}

// Totals are figures of the supervisor itself.
type Totals struct {
	LogDropped     uint64 // lines its own log could not write
	JournalDropped uint64 // events the journal could not write
	AlertsDropped  uint64 // events not looked at and alerts not sent: a bound was reached
}

// TotalsSource is a Source that also gives the supervisor's own figures.
type TotalsSource interface {
	Source
	Totals() Totals
}

// Source gives the samples of every service; it is called on each scrape,
// so it must be cheap and safe to call from any goroutine.
type Source interface {
	Samples() []Sample
}

// SourceFunc adapts a function to Source.
type SourceFunc func() []Sample

// Samples calls f.
func (f SourceFunc) Samples() []Sample { return f() }

// States are the values of respawn_service_state's state label; every
// service has one series per state, 1 for the current one. They are the
// service package's states, in its order; a supervisor test holds them in step
// (metrics imports nothing internal).
var States = []string{"stopped", "starting", "running", "backoff", "stopping", "exited", "failed", "waiting"}

// ExitReasons always have a respawn_service_exits_total series, so that
// rates over them work from the first scrape.
var ExitReasons = []string{"success", "failure", "signal", "stopped"}

// The families of the services and of the supervisor's own figures.
var (
	famUp             = family{"respawn_service_up", "1 when the service's process is running.", gauge}
	famRestarts       = family{"respawn_service_restarts_total", "Times the service was started again after its first start.", counter}
	famExits          = family{"respawn_service_exits_total", "Exits of the service's process, by reason.", counter}
	famState          = family{"respawn_service_state", "1 for the service's current state, 0 for the others.", gauge}
	famStart          = family{"respawn_service_start_time_seconds", "Start of the service's current or last run, in seconds since the Unix epoch.", gauge}
	famCPU            = family{"respawn_service_cpu_seconds_total", "CPU time used by the service's process tree, user and system.", counter}
	famMem            = family{"respawn_service_memory_bytes", "Memory used by the service's process tree.", gauge}
	famLogDropped     = family{"respawn_log_dropped_lines_total", "Output lines of the service its log file could not write (a full disk).", counter}
	famSupLogDropped  = family{"respawn_supervisor_log_dropped_lines_total", "Lines the supervisor's own log could not write.", counter}
	famJournalDropped = family{"respawn_journal_dropped_events_total", "Events the event journal could not write.", counter}
	famAlertsDropped  = family{"respawn_alerts_dropped_total", "Events not looked at for alerts and alerts not sent because a queue was full.", counter}
)

// collect adds the series of src to e, computed now: nothing polls in
// between scrapes.
func collect(e *exposition, src Source) {
	if ts, ok := src.(TotalsSource); ok {
		t := ts.Totals()
		e.add(famSupLogDropped, float64(t.LogDropped))
		e.add(famJournalDropped, float64(t.JournalDropped))
		e.add(famAlertsDropped, float64(t.AlertsDropped))
	}
	for _, s := range src.Samples() {
		name := s.Service
		e.add(famUp, boolValue(s.Up), "service", name)
		e.add(famLogDropped, float64(s.LogDropped), "service", name)
		e.add(famRestarts, float64(s.Restarts), "service", name)
		for _, reason := range ExitReasons {
			e.add(famExits, float64(s.Exits[reason]), "reason", reason, "service", name)
		}
		for reason, n := range s.Exits {
			if !slices.Contains(ExitReasons, reason) {
				e.add(famExits, float64(n), "reason", reason, "service", name)
			}
		}
		for _, st := range States {
			e.add(famState, boolValue(s.State == st), "service", name, "state", st)
		}
		if !s.StartTime.IsZero() {
			e.add(famStart, float64(s.StartTime.UnixNano())/1e9, "service", name)
		}
		if s.HasUsage {
			e.add(famCPU, s.CPUSeconds, "service", name)
			e.add(famMem, float64(s.MemoryBytes), "service", name)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Handler serves the metrics of src and of the supervisor itself (its Go
// runtime and process figures) in the Prometheus text exposition format,
// computed on each scrape.
func Handler(src Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := &exposition{}
		collect(e, src)
		collectRuntime(e)
		var b bytes.Buffer
		e.write(&b)
		w.Header().Set("Content-Type", contentType)
		if r.Method != http.MethodHead {
			_, _ = w.Write(b.Bytes())
		}
	})
}
