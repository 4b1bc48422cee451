package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeSource counts scrapes, so the test can tell nothing is computed in between.
type fakeSource struct {
	calls   atomic.Int32
	samples []Sample
}

func (f *fakeSource) Samples() []Sample {
	f.calls.Add(1)
	return f.samples
}

func newFake() *fakeSource {
	return &fakeSource{samples: []Sample{
		{
			Service: "web", State: "running", Up: true, Restarts: 3,
			Exits:      map[string]uint64{"failure": 2, "signal": 1},
			StartTime:  time.Unix(1700000000, 500_000_000),
			CPUSeconds: 1.25, MemoryBytes: 52428800, HasUsage: true,
		},
		{Service: "migrate", State: "failed", Exits: map[string]uint64{"oom": 1}},
	}}
}

func TestCollectorExposesEveryServiceMetric(t *testing.T) {
	src := newFake()
	want := `
# HELP respawn_service_cpu_seconds_total CPU time used by the service's process tree, user and system.
# TYPE respawn_service_cpu_seconds_total counter
respawn_service_cpu_seconds_total{service="web"} 1.25
# HELP respawn_service_exits_total Exits of the service's process, by reason.
# TYPE respawn_service_exits_total counter
respawn_service_exits_total{reason="failure",service="migrate"} 0
respawn_service_exits_total{reason="failure",service="web"} 2
respawn_service_exits_total{reason="oom",service="migrate"} 1
respawn_service_exits_total{reason="signal",service="migrate"} 0
respawn_service_exits_total{reason="signal",service="web"} 1
respawn_service_exits_total{reason="stopped",service="migrate"} 0
respawn_service_exits_total{reason="stopped",service="web"} 0
respawn_service_exits_total{reason="success",service="migrate"} 0
respawn_service_exits_total{reason="success",service="web"} 0
# HELP respawn_service_memory_bytes Memory used by the service's process tree.
# TYPE respawn_service_memory_bytes gauge
respawn_service_memory_bytes{service="web"} 5.24288e+07
# HELP respawn_service_restarts_total Times the service was started again after its first start.
# TYPE respawn_service_restarts_total counter
respawn_service_restarts_total{service="migrate"} 0
respawn_service_restarts_total{service="web"} 3
# HELP respawn_service_start_time_seconds Start of the service's current or last run, in seconds since the Unix epoch.
# TYPE respawn_service_start_time_seconds gauge
respawn_service_start_time_seconds{service="web"} 1.7000000005e+09
# HELP respawn_service_up 1 when the service's process is running.
# TYPE respawn_service_up gauge
respawn_service_up{service="migrate"} 0
respawn_service_up{service="web"} 1
`
	if err := testutil.CollectAndCompare(NewCollector(src), strings.NewReader(want),
		"respawn_service_up", "respawn_service_restarts_total", "respawn_service_exits_total",
		"respawn_service_start_time_seconds", "respawn_service_cpu_seconds_total", "respawn_service_memory_bytes"); err != nil {
		t.Fatal(err)
	}
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("Samples called %d times for one scrape, want 1", n)
	}
}

func TestStateIsOneHotOverEveryState(t *testing.T) {
	src := newFake()
	c := NewCollector(src)
	if got, want := testutil.CollectAndCount(c, "respawn_service_state"), 2*len(States); got != want {
		t.Fatalf("%d state series, want %d", got, want)
	}
	var b strings.Builder
	b.WriteString("# HELP respawn_service_state 1 for the service's current state, 0 for the others.\n# TYPE respawn_service_state gauge\n")
	for _, svc := range []struct{ name, state string }{{"migrate", "failed"}, {"web", "running"}} {
		for _, st := range sortedStates() {
			v := "0"
			if st == svc.state {
				v = "1"
			}
			b.WriteString(`respawn_service_state{service="` + svc.name + `",state="` + st + `"} ` + v + "\n")
		}
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(b.String()), "respawn_service_state"); err != nil {
		t.Fatal(err)
	}
}

func sortedStates() []string {
	// The exposition sorts label values; keep the expectation in that order.
	return []string{"backoff", "exited", "failed", "running", "starting", "stopped", "stopping", "waiting"}
}

func TestNoServicesNoSeries(t *testing.T) {
	c := NewCollector(SourceFunc(func() []Sample { return nil }))
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("%d series without services", n)
	}
	if problems, err := testutil.CollectAndLint(NewCollector(newFake())); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
}

func TestHandlerServesServicesAndSupervisor(t *testing.T) {
	src := newFake()
	h := Handler(src)
	if n := src.calls.Load(); n != 0 {
		t.Fatalf("Samples called %d times before any scrape", n)
	}
	for i := 1; i <= 2; i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		body, _ := io.ReadAll(rec.Body)
		for _, want := range []string{
			`respawn_service_up{service="web"} 1`,
			`respawn_service_state{service="migrate",state="failed"} 1`,
			"go_goroutines ",
			"go_memstats_alloc_bytes ",
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("scrape %d lacks %q", i, want)
			}
		}
		if n := src.calls.Load(); n != int32(i) {
			t.Fatalf("after %d scrapes Samples was called %d times", i, n)
		}
	}
}

// totalsSource adds the supervisor's own figures to a fake.
type totalsSource struct {
	*fakeSource
	t Totals
}

func (s totalsSource) Totals() Totals { return s.t }

func TestDropCounters(t *testing.T) {
	src := newFake()
	src.samples[0].LogDropped = 42
	want := `
# HELP respawn_log_dropped_lines_total Output lines of the service its log file could not write (a full disk).
# TYPE respawn_log_dropped_lines_total counter
respawn_log_dropped_lines_total{service="migrate"} 0
respawn_log_dropped_lines_total{service="web"} 42
# HELP respawn_supervisor_log_dropped_lines_total Lines the supervisor's own log could not write.
# TYPE respawn_supervisor_log_dropped_lines_total counter
respawn_supervisor_log_dropped_lines_total 7
# HELP respawn_journal_dropped_events_total Events the event journal could not write.
# TYPE respawn_journal_dropped_events_total counter
respawn_journal_dropped_events_total 3
`
	c := NewCollector(totalsSource{src, Totals{LogDropped: 7, JournalDropped: 3}})
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "respawn_log_dropped_lines_total",
		"respawn_supervisor_log_dropped_lines_total", "respawn_journal_dropped_events_total"); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
}
