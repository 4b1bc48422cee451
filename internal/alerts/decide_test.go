package alerts

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
)

// Events as the service actors and the core journal them.
func crash(svc string) *api.Event {
	return &api.Event{Type: api.EventRespawn, Service: svc, Reason: "exit status 1"}
}
func up(svc string) *api.Event {
	return &api.Event{Type: api.EventState, Service: svc, From: "starting", To: "running", Reason: "spawned"}
}
func backoff(svc string) *api.Event {
	return &api.Event{Type: api.EventState, Service: svc, From: "running", To: "backoff", Reason: "exit status 1"}
}
func failed(svc string) *api.Event {
	return &api.Event{Type: api.EventState, Service: svc, From: "backoff", To: "failed", Reason: "start limit reached"}
}
func unhealthy(svc string) *api.Event {
	return &api.Event{Type: api.EventState, Service: svc, From: "running", To: "stopping", Reason: "unhealthy: connection refused"}
}
func core(reason string) *api.Event { return &api.Event{Type: api.EventSupervisor, Reason: reason} }

// tick is the passing of time: Step with no event.
var tick *api.Event

// step is one row of a script: at an offset from the start, an event (nil:
// time passes), and the alerts wanted, written "trigger service" with
// " limited" for one held back, "rule:" first when the case has several rules.
type step struct {
	at   time.Duration
	ev   *api.Event
	want []string
	wake time.Duration // -1: none; 0: not checked
}

func rule(name string, on ...config.AlertTrigger) *config.AlertRule {
	return &config.AlertRule{Name: name, On: on, To: []string{"d"}, CrashLoop: config.CrashLoop{Restarts: 3, Window: time.Minute},
		Stable: 30 * time.Second, RateLimit: config.Limit{Burst: 5, Window: time.Hour}}
}

func TestStep(t *testing.T) {
	const (
		failedT    = config.TriggerFailed
		loopT      = config.TriggerCrashLoop
		recoveredT = config.TriggerRecovered
		unhealthyT = config.TriggerUnhealthy
	)
	s := time.Second
	limited := func(r *config.AlertRule, burst int, window time.Duration) *config.AlertRule {
		r.RateLimit = config.Limit{Burst: burst, Window: window}
		return r
	}
	only := func(r *config.AlertRule, svcs ...string) *config.AlertRule { r.Services = svcs; return r }
	tests := []struct {
		name  string
		rules []*config.AlertRule
		steps []step
	}{
		{"a crash loop alerts once, its recovery once", []*config.AlertRule{rule("r", loopT, recoveredT)}, []step{
			{0, crash("api"), nil, -1},
			{s, up("api"), nil, -1}, // open episode only once the loop is seen
			{2 * s, crash("api"), nil, -1},
			{3 * s, crash("api"), []string{"crash_loop api"}, -1},
			{4 * s, crash("api"), nil, -1},
			{5 * s, crash("api"), nil, -1},
			{6 * s, up("api"), nil, 36 * s},
			{20 * s, backoff("api"), nil, -1}, // ran 14 s only: still the same episode
			{21 * s, crash("api"), nil, -1},
			{22 * s, up("api"), nil, 52 * s},
			{51 * s, tick, nil, 52 * s},
			{52 * s, tick, []string{"recovered api"}, -1},
			{53 * s, tick, nil, -1},
			// Restarts before the recovery do not count towards the next loop.
			{54 * s, crash("api"), nil, -1},
			{55 * s, crash("api"), nil, -1},
			{56 * s, crash("api"), []string{"crash_loop api"}, -1},
		}},
		{"restarts spread wider than the window are no loop", []*config.AlertRule{rule("r", loopT)}, []step{
			{0, crash("api"), nil, -1},
			{40 * s, crash("api"), nil, -1},
			{80 * s, crash("api"), nil, -1},
			{120 * s, crash("api"), nil, -1},
			{160 * s, crash("api"), nil, -1},
			{200 * s, crash("api"), nil, -1},
			{205 * s, crash("api"), []string{"crash_loop api"}, -1},
		}},
		{"crash loops are counted per service", []*config.AlertRule{rule("r", loopT)}, []step{
			{0, crash("a"), nil, 0}, {0, crash("b"), nil, 0}, {s, crash("a"), nil, 0}, {s, crash("b"), nil, 0},
			{2 * s, crash("a"), []string{"crash_loop a"}, 0},
			{3 * s, crash("b"), []string{"crash_loop b"}, 0},
		}},
		{"failed alerts once per episode", []*config.AlertRule{rule("r", failedT, recoveredT)}, []step{
			{0, failed("db"), []string{"failed db"}, -1},
			{s, up("db"), nil, 31 * s},
			{2 * s, failed("db"), nil, -1},
			{3 * s, up("db"), nil, 33 * s},
			{33 * s, tick, []string{"recovered db"}, -1},
			{40 * s, failed("db"), []string{"failed db"}, -1},
		}},
		{"without recovered in on, an episode still ends", []*config.AlertRule{rule("r", failedT)}, []step{
			{0, failed("db"), []string{"failed db"}, -1},
			{s, up("db"), nil, 31 * s},
			{31 * s, tick, nil, -1},
			{32 * s, failed("db"), []string{"failed db"}, -1},
		}},
		{"recovered alone follows any failure", []*config.AlertRule{rule("r", recoveredT)}, []step{
			{0, unhealthy("web"), nil, -1},
			{s, up("web"), nil, 31 * s},
			{31 * s, tick, []string{"recovered web"}, -1},
			{32 * s, crash("web"), nil, -1},
			{33 * s, crash("web"), nil, -1},
			{34 * s, crash("web"), nil, -1},
			{35 * s, up("web"), nil, 65 * s},
			{65 * s, tick, []string{"recovered web"}, -1},
		}},
		{"a service that runs without failing never recovers", []*config.AlertRule{rule("r", recoveredT, failedT)}, []step{
			{0, up("web"), nil, -1},
			{time.Hour, tick, nil, -1},
		}},
		{"unhealthy", []*config.AlertRule{rule("r", unhealthyT, recoveredT)}, []step{
			{0, up("web"), nil, -1},
			{s, unhealthy("web"), []string{"unhealthy web"}, -1},
			{2 * s, up("web"), nil, 32 * s},
			{3 * s, unhealthy("web"), nil, -1},
			{4 * s, up("web"), nil, 34 * s},
			{34 * s, tick, []string{"recovered web"}, -1},
		}},
		{"the rate limit holds back failures, never the recovery of one sent", []*config.AlertRule{limited(rule("r", failedT, recoveredT), 1, 10*time.Minute)}, []step{
			{0, failed("db"), []string{"failed db"}, 0},
			{s, up("db"), nil, 0},
			{31 * s, tick, []string{"recovered db"}, 0},
			{60 * s, failed("db"), []string{"failed db limited"}, 0},
			{61 * s, up("db"), nil, 0},
			{91 * s, tick, nil, -1}, // nobody heard of that failure: no recovery
			{11 * time.Minute, failed("db"), []string{"failed db"}, 0},
		}},
		{"rate limit per service", []*config.AlertRule{limited(rule("r", failedT), 1, time.Hour)}, []step{
			{0, failed("a"), []string{"failed a"}, 0},
			{s, failed("b"), []string{"failed b"}, 0},
			{2 * s, up("a"), nil, 0}, {33 * s, tick, nil, 0},
			{34 * s, failed("a"), []string{"failed a limited"}, 0},
		}},
		{"a recovery-only rule is rate-limited", []*config.AlertRule{limited(rule("r", recoveredT), 1, time.Hour)}, []step{
			{0, failed("a"), nil, 0}, {s, up("a"), nil, 0},
			{31 * s, tick, []string{"recovered a"}, 0},
			{32 * s, failed("a"), nil, 0}, {33 * s, up("a"), nil, 0},
			{63 * s, tick, []string{"recovered a limited"}, 0},
		}},
		{"services limits a rule", []*config.AlertRule{only(rule("r", failedT), "api.1", "db")}, []step{
			{0, failed("api.2"), nil, 0},
			{0, failed("api.1"), []string{"failed api.1"}, 0},
			{0, failed("db"), []string{"failed db"}, 0},
		}},
		{"several rules, each its own state", []*config.AlertRule{rule("loops", loopT), rule("fails", failedT, recoveredT), rule("all", failedT, loopT, recoveredT)}, []step{
			{0, crash("x"), nil, 0}, {s, crash("x"), nil, 0},
			{2 * s, crash("x"), []string{"loops: crash_loop x", "all: crash_loop x"}, 0},
			{3 * s, failed("x"), []string{"fails: failed x", "all: failed x"}, 0},
			{4 * s, up("x"), nil, 34 * s},
			{34 * s, tick, []string{"fails: recovered x", "all: recovered x"}, -1},
		}},
		{"the supervisor's own troubles", []*config.AlertRule{limited(only(rule("core", config.TriggerCoreCrash, config.TriggerCoreHung, config.TriggerRolledBack), "db"), 3, time.Hour)}, []step{
			{0, core("core crashed: signal: killed"), []string{"core_crashed "}, -1},
			{s, core("core hung: no answer for 30s: signal: killed"), []string{"core_hung "}, -1},
			{2 * s, core("upgrade rolled back"), []string{"upgrade_rolled_back "}, -1},
			{3 * s, core("core crashed: exit status 2"), []string{"core_crashed  limited"}, -1},
			{4 * s, core("core restarted after an upgrade"), nil, -1},
		}},
		{"events that mean nothing here", []*config.AlertRule{rule("r", failedT, loopT, recoveredT, unhealthyT, config.TriggerCoreCrash)}, []step{
			{0, &api.Event{Type: api.EventExit, Service: "a", Reason: "exit status 1"}, nil, -1},
			{0, &api.Event{Type: api.EventCommand, Command: "stop", Args: []string{"a"}}, nil, -1},
			{0, &api.Event{Type: api.EventAlert, Service: "a", Reason: "alert failed"}, nil, -1},
			{0, &api.Event{Type: api.EventState, To: "failed"}, nil, -1}, // no service
			{0, &api.Event{Type: api.EventSupervisor, Reason: "reload failed (SIGHUP)"}, nil, -1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := NewState(tt.rules)
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for i, sp := range tt.steps {
				got, wake := st.Step(t0.Add(sp.at), sp.ev)
				if g := describe(got, len(tt.rules) > 1); !slices.Equal(g, sp.want) {
					t.Fatalf("step %d (%s, %s): alerts %q, want %q", i, sp.at, evText(sp.ev), g, sp.want)
				}
				for _, d := range got {
					if !d.Alert.Time.Equal(t0.Add(sp.at)) || d.Alert.Message == "" || d.Alert.Rule != d.Rule.Name {
						t.Errorf("step %d: alert %+v", i, d.Alert)
					}
				}
				switch {
				case sp.wake == -1 && !wake.IsZero():
					t.Errorf("step %d: wake at %s, want none", i, wake.Sub(t0))
				case sp.wake > 0 && !wake.Equal(t0.Add(sp.wake)):
					t.Errorf("step %d: wake at %s, want %s", i, wake.Sub(t0), sp.wake)
				}
			}
		})
	}
}

func describe(ds []Decision, withRule bool) []string {
	var out []string
	for _, d := range ds {
		s := d.Alert.Trigger + " " + d.Alert.Service
		if d.Limited {
			s += " limited"
		}
		if withRule {
			s = d.Rule.Name + ": " + s
		}
		out = append(out, s)
	}
	return out
}

func evText(e *api.Event) string {
	if e == nil {
		return "tick"
	}
	return fmt.Sprintf("%s %s %s", e.Type, e.Service, strings.TrimSpace(e.To+" "+e.Reason))
}

// The restarts kept per service are bounded by the most demanding rule,
// however long a service crashes.
func TestStepBounded(t *testing.T) {
	st := NewState([]*config.AlertRule{rule("r", config.TriggerCrashLoop)})
	t0 := time.Now()
	for i := range 10_000 {
		st.Step(t0.Add(time.Duration(i)*time.Millisecond), crash("a"))
	}
	if n := len(st.svc["a"].restarts); n != 3 {
		t.Errorf("%d restarts kept, want 3", n)
	}
	if n := len(st.rs[ruleKey{"r", "a"}].sent); n != 1 {
		t.Errorf("%d sent times kept, want 1", n)
	}
}

// Every message says what happened in words a person reads in a mail subject.
func TestStepMessages(t *testing.T) {
	st := NewState([]*config.AlertRule{rule("r", config.TriggerCrashLoop, config.TriggerFailed, config.TriggerRecovered, config.TriggerUnhealthy)})
	t0 := time.Now()
	var got []string
	for i, e := range []*api.Event{crash("a"), crash("a"), crash("a"), failed("a"), unhealthy("a"), up("a"), tick} {
		ds, _ := st.Step(t0.Add(time.Duration(i*i*i)*time.Second), e)
		for _, d := range ds {
			got = append(got, d.Alert.Message)
		}
	}
	want := []string{
		"a is crash-looping: 3 restarts within 1m0s; last: exit status 1",
		"a entered failed: start limit reached",
		"a is unhealthy and is restarted: connection refused",
		"a recovered: running for 30s without an exit",
	}
	if !slices.Equal(got, want) {
		t.Errorf("messages:\n%q\nwant\n%q", got, want)
	}
}
