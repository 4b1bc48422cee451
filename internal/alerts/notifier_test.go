package alerts

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
)

// journal is an in-memory Recorder.
type journal struct {
	mu     sync.Mutex // guards events
	events []api.Event
}

func (j *journal) Record(e api.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, e)
}

// alerts returns the reason and message of each alert event recorded.
func (j *journal) alerts() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []string
	for _, e := range j.events {
		if e.Type == api.EventAlert {
			out = append(out, e.Reason+": "+e.Message)
		}
	}
	return out
}

// fakeDest records what it is asked to send, taking as long as block says.
type fakeDest struct {
	mu   sync.Mutex // guards got
	got  []api.Alert
	fail error
	// block, when set, holds each send until ctx ends.
	block bool
}

func (f *fakeDest) send(ctx context.Context, a api.Alert) (int, error) {
	if f.block {
		<-ctx.Done()
		return 1, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, a)
	return 1, f.fail
}

func (f *fakeDest) triggers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, a := range f.got {
		out = append(out, a.Trigger+" "+a.Service)
	}
	return out
}

// fakeSenders makes the destinations named in fakes send through them
// (any other kind of destination is an error) until the test ends.
func fakeSenders(t *testing.T, fakes map[string]*fakeDest) {
	old := makeSender
	makeSender = func(d *config.AlertDestination, _ Options) (func(context.Context, api.Alert) (int, error), error) {
		f := fakes[d.Name]
		if f == nil {
			return nil, errors.New("no fake for " + d.Name)
		}
		return f.send, nil
	}
	t.Cleanup(func() { makeSender = old })
}

// fakeAlerts is a config section with rules and an exec destination for
// each name.
func fakeAlerts(rules []*config.AlertRule, names ...string) config.Alerts {
	a := config.Alerts{Rules: rules}
	for _, name := range names {
		a.Destinations = append(a.Destinations, &config.AlertDestination{Name: name, Exec: &config.ExecAlert{Command: []string{"true"}, Timeout: time.Second}})
	}
	return a
}

// newTestNotifier builds a notifier whose destinations are fakes.
func newTestNotifier(t *testing.T, rules []*config.AlertRule, queue int, fakes map[string]*fakeDest) (*Notifier, *journal) {
	t.Helper()
	fakeSenders(t, fakes)
	j := &journal{}
	n, err := New(Options{Alerts: fakeAlerts(rules, slices.Sorted(maps.Keys(fakes))...), Journal: j, Host: "h", Queue: queue, Inbox: 8})
	if err != nil {
		t.Fatal(err)
	}
	return n, j
}

func TestNotifierCrashLoopAndRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := rule("loops", config.TriggerCrashLoop, config.TriggerRecovered)
		f := &fakeDest{}
		n, j := newTestNotifier(t, []*config.AlertRule{r}, 8, map[string]*fakeDest{"d": f})
		defer n.Close()
		for range 6 {
			n.Record(*crash("api"))
			time.Sleep(time.Second)
		}
		n.Record(*up("api"))
		synctest.Wait()
		if got := f.triggers(); !slices.Equal(got, []string{"crash_loop api"}) {
			t.Fatalf("sent %q, want one crash_loop", got)
		}
		// Recovery comes from the notifier's own timer, Stable after the
		// service came up, with no event to wake it.
		start := time.Now()
		time.Sleep(r.Stable - time.Millisecond)
		synctest.Wait()
		if got := f.triggers(); len(got) != 1 {
			t.Fatalf("sent %q before the service was stable", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := f.triggers(); !slices.Equal(got, []string{"crash_loop api", "recovered api"}) {
			t.Fatalf("sent %q, want the crash loop and its recovery", got)
		}
		if d := time.Since(start); d != r.Stable {
			t.Errorf("recovered after %s, want %s", d, r.Stable)
		}
		a := f.got[1]
		if a.Host != "h" || a.Rule != "loops" || a.Event != nil || a.Test {
			t.Errorf("recovery alert = %+v", a)
		}
		if f.got[0].Event == nil || f.got[0].Event.Type != api.EventRespawn || f.got[0].Restarts != 3 {
			t.Errorf("crash-loop alert = %+v", f.got[0])
		}
		want := []string{
			"alert sent: rule loops, crash_loop to d (exec), 1 tries in 0s",
			"alert sent: rule loops, recovered to d (exec), 1 tries in 0s",
		}
		if got := j.alerts(); !slices.Equal(got, want) {
			t.Errorf("journal %q, want %q", got, want)
		}
	})
}

// A destination that hangs holds up neither Record (the supervision path)
// nor other destinations; what does not fit its queue is dropped, counted
// and recorded.
func TestNotifierSlowDestination(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := rule("r", config.TriggerFailed)
		r.To = []string{"slow", "fast"}
		r.RateLimit = config.Limit{Burst: 100, Window: time.Hour}
		slow, fast := &fakeDest{block: true}, &fakeDest{}
		n, j := newTestNotifier(t, []*config.AlertRule{r}, 2, map[string]*fakeDest{"slow": slow, "fast": fast})
		for i := range 5 {
			svc := string(rune('a' + i))
			start := time.Now()
			n.Record(*failed(svc))
			if time.Since(start) != 0 {
				t.Fatal("Record waited")
			}
			synctest.Wait() // the loop takes each event before the next
		}
		if got := fast.triggers(); len(got) != 5 {
			t.Errorf("the fast destination got %q, want 5 alerts", got)
		}
		// One in the hanging send, two queued, two dropped.
		if n.Dropped() != 2 {
			t.Errorf("Dropped() = %d, want 2", n.Dropped())
		}
		dropped := 0
		for _, a := range j.alerts() {
			if strings.HasPrefix(a, "alert dropped: rule r, failed to slow (exec): 2 alerts already wait") {
				dropped++
			}
		}
		if dropped != 2 {
			t.Errorf("journal: %q, want 2 drops of slow", j.alerts())
		}
		// Close cuts the hanging send short and drops what waits.
		n.Close()
		if n.Dropped() != 4 {
			t.Errorf("Dropped() after Close = %d, want 4", n.Dropped())
		}
		// Recording after Close still journals, and sends nothing.
		n.Record(*failed("z"))
		if got := fast.triggers(); len(got) != 5 {
			t.Errorf("sent after Close: %q", got)
		}
	})
}

// Events beyond the inbox are dropped at once and reported by the loop.
func TestNotifierInboxFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeDest{}
		n, j := newTestNotifier(t, []*config.AlertRule{rule("r", config.TriggerFailed)}, 8, map[string]*fakeDest{"d": f})
		defer n.Close()
		for range 100 {
			n.Record(api.Event{Type: api.EventExit, Service: "x"})
		}
		if n.Dropped() == 0 || n.Dropped() > 92 {
			t.Fatalf("Dropped() = %d, want some of 100 with an inbox of 8", n.Dropped())
		}
		lost := n.Dropped()
		synctest.Wait()
		n.Record(*failed("x"))
		synctest.Wait()
		var found bool
		for _, a := range j.alerts() {
			found = found || strings.HasPrefix(a, "alert events dropped: ")
		}
		if !found || lost == 0 {
			t.Errorf("journal %q: no report of the dropped events", j.alerts())
		}
		if got := f.triggers(); !slices.Equal(got, []string{"failed x"}) {
			t.Errorf("sent %q", got)
		}
	})
}

func TestNotifierRateLimitRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := rule("r", config.TriggerCoreCrash)
		r.RateLimit = config.Limit{Burst: 1, Window: time.Hour}
		f := &fakeDest{}
		n, j := newTestNotifier(t, []*config.AlertRule{r}, 8, map[string]*fakeDest{"d": f})
		defer n.Close()
		n.Record(*core("core crashed: signal: killed"))
		n.Record(*core("core crashed: signal: killed"))
		synctest.Wait()
		if got := f.triggers(); !slices.Equal(got, []string{"core_crashed "}) {
			t.Errorf("sent %q", got)
		}
		// The loop records the held-back one while the sender sends the
		// first: in either order.
		want := []string{
			"alert rate-limited: rule r, core_crashed to d (exec): more than 1 alerts within 1h0m0s",
			"alert sent: rule r, core_crashed to d (exec), 1 tries in 0s",
		}
		if got := slices.Sorted(slices.Values(j.alerts())); !slices.Equal(got, want) {
			t.Errorf("journal %q, want %q", got, want)
		}
	})
}

func TestNotifierTest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := rule("a", config.TriggerFailed), rule("b", config.TriggerFailed)
		b.To = []string{"d", "e"}
		d, e := &fakeDest{}, &fakeDest{fail: errors.New("boom")}
		n, j := newTestNotifier(t, []*config.AlertRule{a, b}, 8, map[string]*fakeDest{"d": d, "e": e})
		defer n.Close()
		got, err := n.Test(t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		want := []api.AlertAttempt{
			{Rule: "a", Destination: "d", Kind: "exec", OK: true, Tries: 1},
			{Rule: "b", Destination: "d", Kind: "exec", OK: true, Tries: 1},
			{Rule: "b", Destination: "e", Kind: "exec", Error: "boom", Tries: 1},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Test = %+v, want %+v", got, want)
		}
		if len(j.alerts()) != 3 || !d.got[0].Test || d.got[0].Trigger != "test" {
			t.Errorf("journal %q, alert %+v", j.alerts(), d.got[0])
		}
		got, err = n.Test(t.Context(), "b")
		if err != nil || len(got) != 2 {
			t.Errorf("Test(b) = %+v, %v", got, err)
		}
		_, err = n.Test(t.Context(), "c")
		var coded interface{ APICode() string }
		if !errors.Is(err, ErrUnknownRule) || !errors.As(err, &coded) || coded.APICode() != api.CodeUnknownRule {
			t.Errorf("Test(c) err = %v", err)
		}
	})
}

// The templates an email may use are checked by the config against a list
// of names: the alert must have exactly those fields.
func TestTemplateFields(t *testing.T) {
	var names []string
	for f := range reflect.TypeFor[api.Alert]().Fields() {
		names = append(names, f.Name)
	}
	got, want := slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(config.AlertTemplateFields))
	if !slices.Equal(got, want) {
		t.Errorf("api.Alert has %q, config.AlertTemplateFields %q", got, want)
	}
}

// A reload brings its alerts section into force when it is applied, not
// when it is read; what the decisions knew of the services stays.
func TestNotifierReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d1, d2 := &fakeDest{}, &fakeDest{}
		loops := rule("loops", config.TriggerCrashLoop)
		n, j := newTestNotifier(t, []*config.AlertRule{loops}, 8, map[string]*fakeDest{"d": d1, "d2": d2})
		defer n.Close()
		n.Record(*crash("api"))
		n.Record(*crash("api"))
		synctest.Wait()

		newLoops := rule("loops", config.TriggerCrashLoop, config.TriggerFailed)
		newLoops.To = []string{"d2"}
		n.Stage(fakeAlerts([]*config.AlertRule{newLoops}, "d2"))
		// Read, not applied (a dry run): the old rule still sends to d.
		n.Record(*failed("x"))
		synctest.Wait()
		if len(d1.triggers())+len(d2.triggers()) != 0 {
			t.Fatalf("sent %q %q before the reload applied", d1.triggers(), d2.triggers())
		}
		n.Record(api.Event{Type: api.EventSupervisor, Message: "reload: nothing to change"})
		// The third restart makes the loop: the two before the reload count.
		n.Record(*crash("api"))
		n.Record(*failed("db"))
		synctest.Wait()
		if got := d2.triggers(); !slices.Equal(got, []string{"crash_loop api", "failed db"}) {
			t.Errorf("after the reload d2 got %q", got)
		}
		if got := d1.triggers(); len(got) != 0 {
			t.Errorf("after the reload d got %q", got)
		}
		got, err := n.Test(t.Context(), "")
		if err != nil || len(got) != 1 || got[0].Destination != "d2" {
			t.Errorf("Test after the reload = %+v, %v", got, err)
		}

		// A destination that cannot be built fails each alert sent to it.
		bad := rule("other", config.TriggerFailed)
		bad.To = []string{"nofake"}
		n.Stage(fakeAlerts([]*config.AlertRule{bad}, "nofake"))
		n.Record(api.Event{Type: api.EventSupervisor, Message: "reload: restart web"})
		n.Record(*failed("web"))
		synctest.Wait()
		var failedWith string
		for _, a := range j.alerts() {
			if strings.HasPrefix(a, "alert failed: rule other, failed to nofake (exec)") {
				failedWith = a
			}
		}
		if !strings.Contains(failedWith, "alerts.destinations.nofake: no fake for nofake") {
			t.Errorf("journal %q: no failed alert to the broken destination", j.alerts())
		}
		if got := d2.triggers(); len(got) != 3 {
			t.Errorf("the old destination still got %q", got)
		}
	})
}

// A notifier started without rules takes some from a reload.
func TestNotifierReloadFromNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDest{}
		n, _ := newTestNotifier(t, nil, 8, map[string]*fakeDest{})
		defer n.Close()
		fakeSenders(t, map[string]*fakeDest{"d": d})
		n.Stage(fakeAlerts([]*config.AlertRule{rule("r", config.TriggerFailed)}, "d"))
		n.Record(api.Event{Type: api.EventSupervisor, Message: "reload: add web"})
		synctest.Wait()
		n.Record(*failed("web"))
		synctest.Wait()
		if got := d.triggers(); !slices.Equal(got, []string{"failed web"}) {
			t.Errorf("sent %q", got)
		}
	})
}
