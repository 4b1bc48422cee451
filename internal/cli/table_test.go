package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

func TestPrintStatus(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	started := now.Add(-90 * time.Second)
	code := 1
	st := api.Status{
		Supervisor: api.Supervisor{Pid: 41, Config: "/srv/respawn.yaml", StartedAt: now.Add(-2 * time.Hour), CoreRestarts: 1},
		Services: []api.Service{
			{Name: "web", State: "running", Pid: 100, StartedAt: &started, Health: "healthy", CPUPercent: ptr(97.4), MemoryBytes: ptr(uint64(47_395_635))},
			{Name: "worker", State: "backoff", Restarts: 3, ExitCode: &code, Health: "unknown",
				Error: "exit status 1; restart 4 in 800ms", NextRetryAt: ptr(now.Add(800 * time.Millisecond))},
			{Name: "api", State: "waiting", Health: "unknown", WaitingOn: "waiting for db to be ready (it is starting)"},
		},
	}
	var b bytes.Buffer
	printStatus(&b, st, now, false)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := []string{
		"/srv/respawn.yaml: supervisor pid 41, up 2h00m, core restarts 1",
		"NAME    STATE    PID  UPTIME  RESTARTS  HEALTH   CPU  MEM    LAST EXIT  NEXT      DETAIL",
		"web     running  100  1m30s   0         healthy  97%  45.2M  -          -",
		"worker  backoff  -    -       3         -        -    -      exit 1     in 800ms  exit status 1; restart 4 in 800ms",
		"api     waiting  -    -       0         -        -    -      -          -         waiting for db to be ready (it is starting)",
	}
	if len(lines) != len(want) {
		t.Fatalf("got:\n%s", b.String())
	}
	for i := range want {
		if strings.TrimRight(lines[i], " ") != want[i] {
			t.Errorf("line %d:\n got %q\nwant %q", i, strings.TrimRight(lines[i], " "), want[i])
		}
	}
	b.Reset()
	printStatus(&b, st, now, true)
	for _, c := range []string{"\x1b[32mrunning\x1b[0m", "\x1b[33mbackoff\x1b[0m", "\x1b[33mwaiting\x1b[0m"} {
		if !strings.Contains(b.String(), c) {
			t.Errorf("coloured table lacks %q:\n%s", c, b.String())
		}
	}
}

func ptr[T any](v T) *T { return &v }

// --wait counts a running service ready once its run has lasted waitSettle:
// one that exits at once is still caught.
func TestWaitReadiness(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(-d); return &v }
	zero, one := 0, 1
	for _, c := range []struct {
		name string
		s    api.Service
		want readyState
	}{
		{"just spawned", api.Service{Wanted: "up", State: "running", StartedAt: at(100 * time.Millisecond)}, notReady},
		{"settled", api.Service{Wanted: "up", State: "running", StartedAt: at(waitSettle)}, isReady},
		{"running, no start time", api.Service{Wanted: "up", State: "running"}, notReady},
		{"not wanted", api.Service{Wanted: "down", State: "stopped"}, isReady},
		{"oneshot done", api.Service{Wanted: "up", State: "exited", ExitCode: &zero}, isReady},
		{"exited 1", api.Service{Wanted: "up", State: "exited", ExitCode: &one}, failedReady},
		{"backoff", api.Service{Wanted: "up", State: "backoff"}, failedReady},
		{"blocked", api.Service{Wanted: "up", State: "waiting", Blocked: true}, failedReady},
		{"starting", api.Service{Wanted: "up", State: "starting"}, notReady},
	} {
		if got := readiness(c.s, now); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

// writeTable lays a table out as tabwriter does, cell for cell, for the
// cells a status has: plain, empty, coloured, wide characters, and the
// ones it leaves to tabwriter (tabs, line breaks, invalid UTF-8).
func TestWriteTableMatchesTabwriter(t *testing.T) {
	cells := []string{"", "-", "web", "running", "\x1b[32mrunning\x1b[0m", "12345", "1m30s", "exit status 1; restart 4 in 800ms",
		"ünïcødé", "日本語", "a very long cell that is wider than every other one in its column"}
	odd := []string{"tab\there", "line\nbreak", "cr\r", "bad \xff byte", "\uFFFD"}
	for n := range 60 {
		rows := [][statusColumns]string{statusTitles}
		for i := range n % 7 {
			var r [statusColumns]string
			for j := range r {
				r[j] = cells[(n*7+i*3+j*5)%len(cells)]
			}
			if n%5 == 4 {
				r[(n+i)%statusColumns] = odd[(n+i)%len(odd)]
			}
			rows = append(rows, r)
		}
		var got, want bytes.Buffer
		writeTable(&got, rows)
		writeTabwriter(&want, rows)
		if got.String() != want.String() {
			t.Fatalf("table %d:\n got %q\nwant %q", n, got.String(), want.String())
		}
	}
}

// status -o json writes what writeJSON would.
func TestStatusJSONAsWriteJSON(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	code := 1
	st := api.Status{
		Supervisor: api.Supervisor{Pid: 41, Config: "/srv/respawn.yaml", StartedAt: now, CoreRestarts: 1},
		Services: []api.Service{
			{Name: "web", State: "running", Pid: 100, StartedAt: &now, Health: "healthy", CPUPercent: ptr(97.4), MemoryBytes: ptr(uint64(47_395_635))},
			{Name: "worker", State: "backoff", Restarts: 3, ExitCode: &code, Error: "exit status 1 <&>", NextRetryAt: ptr(now)},
		},
	}
	var want bytes.Buffer
	if err := writeJSON(&want, st); err != nil {
		t.Fatal(err)
	}
	if got := string(api.AppendStatusJSON(nil, &st)); got != want.String() {
		t.Errorf("got\n%s\nwant\n%s", got, want.String())
	}
}
