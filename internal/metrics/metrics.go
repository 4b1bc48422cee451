// Package metrics exposes the supervisor's services to Prometheus, computed when scraped.
package metrics

import (
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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

var (
	descUp = prometheus.NewDesc("respawn_service_up",
		"1 when the service's process is running.", []string{"service"}, nil)
	descRestarts = prometheus.NewDesc("respawn_service_restarts_total",
		"Times the service was started again after its first start.", []string{"service"}, nil)
	descExits = prometheus.NewDesc("respawn_service_exits_total",
		"Exits of the service's process, by reason.", []string{"service", "reason"}, nil)
	descState = prometheus.NewDesc("respawn_service_state",
		"1 for the service's current state, 0 for the others.", []string{"service", "state"}, nil)
	descStart = prometheus.NewDesc("respawn_service_start_time_seconds",
		"Start of the service's current or last run, in seconds since the Unix epoch.", []string{"service"}, nil)
	descCPU = prometheus.NewDesc("respawn_service_cpu_seconds_total",
		"CPU time used by the service's process tree, user and system.", []string{"service"}, nil)
	descMem = prometheus.NewDesc("respawn_service_memory_bytes",
		"Memory used by the service's process tree.", []string{"service"}, nil)
	descLogDropped = prometheus.NewDesc("respawn_log_dropped_lines_total",
		"Output lines of the service its log file could not write (a full disk).", []string{"service"}, nil)
	descSupLogDropped = prometheus.NewDesc("respawn_supervisor_log_dropped_lines_total",
		"Lines the supervisor's own log could not write.", nil, nil)
	descJournalDropped = prometheus.NewDesc("respawn_journal_dropped_events_total",
		"Events the event journal could not write.", nil, nil)
)

// collector turns samples into metrics at scrape time: nothing polls in
// between.
type collector struct{ src Source }

// NewCollector returns a collector of the respawn_service_* metrics of src.
func NewCollector(src Source) prometheus.Collector { return collector{src} }

func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descRestarts, descExits, descState, descStart, descCPU, descMem, descLogDropped, descSupLogDropped, descJournalDropped} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	if ts, ok := c.src.(TotalsSource); ok {
		t := ts.Totals()
		ch <- prometheus.MustNewConstMetric(descSupLogDropped, prometheus.CounterValue, float64(t.LogDropped))
		ch <- prometheus.MustNewConstMetric(descJournalDropped, prometheus.CounterValue, float64(t.JournalDropped))
	}
	for _, s := range c.src.Samples() {
		name := s.Service
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, boolValue(s.Up), name)
		ch <- prometheus.MustNewConstMetric(descLogDropped, prometheus.CounterValue, float64(s.LogDropped), name)
		ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(s.Restarts), name)
		for _, reason := range ExitReasons {
			ch <- prometheus.MustNewConstMetric(descExits, prometheus.CounterValue, float64(s.Exits[reason]), name, reason)
		}
		for reason, n := range s.Exits {
			if !slices.Contains(ExitReasons, reason) {
				ch <- prometheus.MustNewConstMetric(descExits, prometheus.CounterValue, float64(n), name, reason)
			}
		}
		for _, st := range States {
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, boolValue(s.State == st), name, st)
		}
		if !s.StartTime.IsZero() {
			ch <- prometheus.MustNewConstMetric(descStart, prometheus.GaugeValue, float64(s.StartTime.UnixNano())/1e9, name)
		}
		if s.HasUsage {
			ch <- prometheus.MustNewConstMetric(descCPU, prometheus.CounterValue, s.CPUSeconds, name)
			ch <- prometheus.MustNewConstMetric(descMem, prometheus.GaugeValue, float64(s.MemoryBytes), name)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// NewRegistry returns a registry holding the services' collector and the
// Go and process collectors of the supervisor itself.
func NewRegistry(src Source) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves the metrics of src and of the supervisor in the
// Prometheus exposition format.
func Handler(src Source) http.Handler {
	reg := NewRegistry(src)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A failing collector must not hide the others.
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg,
	})
}
