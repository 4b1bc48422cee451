package metrics

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// exposed renders src's series (without the supervisor's runtime figures)
// and keeps the families named.
func exposed(src Source, names ...string) string {
	e := &exposition{}
	collect(e, src)
	var b bytes.Buffer
	e.write(&b)
	var out strings.Builder
	keep := false
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if strings.HasPrefix(line, "# HELP ") {
			name := strings.Fields(line)[2]
			keep = len(names) == 0 || slices.Contains(names, name)
		}
		if keep {
			out.WriteString(line)
		}
	}
	return out.String()
}

// sameFamilies compares two expositions family by family, whatever their order.
func sameFamilies(t *testing.T, got, want string) {
	t.Helper()
	split := func(s string) map[string]string {
		m := map[string]string{}
		name := ""
		for _, line := range strings.SplitAfter(strings.TrimSpace(s)+"\n", "\n") {
			if strings.HasPrefix(line, "# HELP ") {
				name = strings.Fields(line)[2]
			}
			m[name] += line
		}
		return m
	}
	g, w := split(got), split(want)
	for name, text := range w {
		if g[name] != text {
			t.Errorf("family %s:\n%s\nwant:\n%s", name, g[name], text)
		}
	}
	for name := range g {
		if _, ok := w[name]; !ok {
			t.Errorf("unexpected family %s", name)
		}
	}
}

// parse reads an exposition as Prometheus does, strictly.
func parse(t *testing.T, text string) map[string]int {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, text)
	}
	n := map[string]int{}
	for name, f := range fams {
		n[name] = len(f.GetMetric())
	}
	return n
}

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
	sameFamilies(t, exposed(src, "respawn_service_up", "respawn_service_restarts_total", "respawn_service_exits_total",
		"respawn_service_start_time_seconds", "respawn_service_cpu_seconds_total", "respawn_service_memory_bytes"), want)
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("Samples called %d times for one scrape, want 1", n)
	}
}

func TestStateIsOneHotOverEveryState(t *testing.T) {
	src := newFake()
	if got, want := parse(t, exposed(src))["respawn_service_state"], 2*len(States); got != want {
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
	sameFamilies(t, exposed(src, "respawn_service_state"), b.String())
}

func sortedStates() []string {
	// The exposition sorts label values; keep the expectation in that order.
	return []string{"backoff", "exited", "failed", "running", "starting", "stopped", "stopping", "waiting"}
}

func TestNoServicesNoSeries(t *testing.T) {
	if text := exposed(SourceFunc(func() []Sample { return nil })); text != "" {
		t.Fatalf("series without services:\n%s", text)
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
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
			t.Errorf("Content-Type %q", ct)
		}
		// The whole scrape parses, with the supervisor's own figures.
		fams := parse(t, string(body))
		for _, name := range []string{"go_goroutines", "go_threads", "go_info", "go_gc_duration_seconds",
			"go_memstats_alloc_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_sys_bytes",
			"process_cpu_seconds_total", "process_start_time_seconds", "process_max_fds",
			"process_open_fds", "process_resident_memory_bytes", "process_virtual_memory_bytes"} {
			if fams[name] == 0 {
				t.Errorf("scrape %d lacks %s", i, name)
			}
		}
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
# HELP respawn_alerts_dropped_total Events not looked at for alerts and alerts not sent because a queue was full.
# TYPE respawn_alerts_dropped_total counter
respawn_alerts_dropped_total 5
`
	src2 := totalsSource{src, Totals{LogDropped: 7, JournalDropped: 3, AlertsDropped: 5}}
	sameFamilies(t, exposed(src2, "respawn_log_dropped_lines_total",
		"respawn_supervisor_log_dropped_lines_total", "respawn_journal_dropped_events_total", "respawn_alerts_dropped_total"), want)
	parse(t, exposed(src2))
}

// Label values and help text are escaped as the format says.
func TestEscaping(t *testing.T) {
	src := SourceFunc(func() []Sample {
		return []Sample{{Service: "a\"b\\c\nd", State: "running", Up: true}}
	})
	text := exposed(src, "respawn_service_up")
	if want := `respawn_service_up{service="a\"b\\c\nd"} 1`; !strings.Contains(text, want) {
		t.Errorf("exposition:\n%s\nwant the line %s", text, want)
	}
	parse(t, exposed(src))
}
