package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/proc"
)

// recJournal keeps the events a supervisor records.
type recJournal struct {
	mu     sync.Mutex // guards events
	events []api.Event
}

func (j *recJournal) Record(e api.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, e)
}

func (j *recJournal) all() []api.Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.events)
}

// harness runs a supervisor over real processes, as a core does over a
// keeper, and stops it at the end of the test.
type harness struct {
	t       *testing.T
	dir     string
	sup     *Supervisor
	runner  *testRunner
	journal *recJournal
}

// services starts a supervisor for the services block text (indented two
// spaces, as under `services:`).
func newHarness(t *testing.T, services string, load func(path string) (*config.Config, error)) *harness {
	t.Helper()
	dir := t.TempDir()
	mgr, err := proc.NewManager(proc.Options{InstanceID: fmt.Sprintf("suptest-%d-%d", os.Getpid(), time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	runner := &testRunner{m: mgr, last: map[string]*proc.Process{}, spawns: map[string]int{}}
	capture, err := logs.NewCapture(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, dir, "r.yaml", configText(dir, services))
	h := &harness{t: t, dir: dir, runner: runner, journal: &recJournal{}}
	h.sup, err = New(cfg, Options{Runner: runner, Capture: localCapture{capture}, Journal: h.journal, Load: load,
		Environ: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = h.sup.Shutdown(ctx)
		capture.Close()
		mgr.Close()
	})
	h.sup.Start()
	return h
}

func configText(dir, services string) string {
	return fmt.Sprintf("version: 1\nsupervisor: {state_dir: %s}\nservices:\n%s", filepath.Join(dir, "state"), services)
}

func (h *harness) row(name string) api.Service {
	h.t.Helper()
	st, err := h.sup.Status([]string{name})
	if err != nil {
		h.t.Fatal(err)
	}
	return st.Services[0]
}

func (h *harness) waitState(name, state string) api.Service {
	h.t.Helper()
	var r api.Service
	eventually(h.t, name+" "+state, func() bool { r = h.row(name); return r.State == state })
	return r
}

// transitions lists name's state changes as "from>to", in order.
func (h *harness) transitions(name string) []string {
	var out []string
	for _, e := range h.journal.all() {
		if e.Type == api.EventState && e.Service == name {
			out = append(out, e.From+">"+e.To)
		}
	}
	return out
}

// A dependent waits for its dependency to be ready, then starts.
func TestDependentWaitsForReadiness(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "ready")
	h := newHarness(t, fmt.Sprintf(`  db:
    command: [sleep, "300"]
    ready: {exec: [test, -f, %s], interval: 20ms, timeout: 60s}
  web:
    command: [sleep, "301"]
    depends_on: {db: ready}
`, flag), nil)
	h.waitState("db", "starting")
	// What web waits for follows db as it changes.
	eventually(t, "web waiting for db to start", func() bool {
		w := h.row("web")
		return w.State == "waiting" && strings.Contains(w.WaitingOn, "db to be ready (it is starting)") && !w.Blocked
	})
	if _, n := h.runner.lastOf("web"); n != 0 {
		t.Fatalf("web spawned %d times before db was ready", n)
	}
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h.waitState("db", "running")
	h.waitState("web", "running")
	if _, n := h.runner.lastOf("web"); n != 1 {
		t.Errorf("web spawned %d times, want 1", n)
	}
}

// A dependency that failed for good blocks its dependents, and a start of
// one says so at once.
func TestFailedDependencyBlocks(t *testing.T) {
	h := newHarness(t, `  broken:
    kind: oneshot
    command: [sh, -c, "exit 3"]
    restart: {policy: always, backoff: {initial: 10ms}, limit: {burst: 2}, cooldown: 0s}
  web:
    command: [sleep, "302"]
    depends_on: {broken: completed}
`, nil)
	h.waitState("broken", "failed")
	eventually(t, "web blocked", func() bool { r := h.row("web"); return r.State == "waiting" && r.Blocked })
	res, err := h.sup.StartServices(context.Background(), []string{"web"})
	if err != nil {
		t.Fatal(err)
	}
	// The start retries what web needs first; web itself is still blocked.
	if len(res) != 2 || res[0].Name != "broken" || !strings.Contains(res[0].Note, "web needs it") ||
		res[1].Name != "web" || !strings.HasPrefix(res[1].Error, "blocked: waiting for broken") {
		t.Errorf("start web: %+v, want broken retried first and web blocked", res)
	}
}

// Starting a dependent starts what it needs first; the stop of what others
// need stops them first; shutdown stops in reverse dependency order.
func TestOrderedStartAndStop(t *testing.T) {
	h := newHarness(t, `  db:
    command: [sleep, "303"]
    autostart: false
  api:
    command: [sleep, "304"]
    depends_on: [db]
    autostart: false
  web:
    command: [sleep, "305"]
    depends_on: [api]
    autostart: false
`, nil)
	res, err := h.sup.StartServices(context.Background(), []string{"web"})
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, r := range res {
		if r.State != "running" {
			t.Errorf("start web: %s is %s (%s)", r.Name, r.State, r.Error)
		}
		if r.Note != "" {
			notes = append(notes, r.Name+": "+r.Note)
		}
	}
	if len(res) != 3 || len(notes) != 2 {
		t.Errorf("start web acted on %+v; want db and api started first, with a note each", res)
	}
	res, err = h.sup.StopServices(context.Background(), []string{"db"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Errorf("stop db acted on %+v; want web and api stopped too", res)
	}
	for _, n := range []string{"db", "api", "web"} {
		if r := h.row(n); r.State != "stopped" || r.Pid != 0 {
			t.Errorf("%s after stop db: %s pid %d", n, r.State, r.Pid)
		}
	}
	// Dependents stopped before what they need: web, api, db.
	stoppedAt := map[string]int{}
	for i, e := range h.journal.all() {
		if e.Type == api.EventState && e.To == "stopped" {
			stoppedAt[e.Service] = i
		}
	}
	if !(stoppedAt["web"] < stoppedAt["api"] && stoppedAt["api"] < stoppedAt["db"]) {
		t.Errorf("stop order (journal positions) %v, want web, api, db", stoppedAt)
	}

	// Shutdown stops everything, dependents first.
	if _, err := h.sup.StartServices(context.Background(), []string{"all"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"db", "api", "web"} {
		h.waitState(n, "running")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mark := len(h.journal.all())
	if err := h.sup.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, e := range h.journal.all()[mark:] {
		if e.Type == api.EventState && e.To == "stopped" {
			order = append(order, e.Service)
		}
	}
	if strings.Join(order, ",") != "web,api,db" {
		t.Errorf("shutdown order %v, want web,api,db", order)
	}
	if _, err := h.sup.StartServices(context.Background(), []string{"db"}); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("start after shutdown: %v, want ErrShuttingDown", err)
	}
}

// Unknown names are refused as a whole; restart gives a new process; a
// signal reaches the process; why explains an exit.
func TestCommandsAndInspection(t *testing.T) {
	h := newHarness(t, `  a:
    command: [sh, -c, "trap 'echo got-usr1' USR1; echo trapping; while :; do sleep 0.05; done"]
  b:
    command: [sh, -c, "echo bye; exit 4"]
    restart: {policy: always, limit: {burst: 1}}
`, nil)
	a := h.waitState("a", "running")
	h.waitState("b", "failed")
	var unknown *UnknownServiceError
	if _, err := h.sup.StartServices(context.Background(), []string{"a", "nope"}); !errors.As(err, &unknown) || unknown.APICode() != api.CodeUnknownService {
		t.Errorf("start a nope: %v, want an unknown-service error", err)
	}
	if _, err := h.sup.Status([]string{"nope"}); !errors.As(err, &unknown) || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("status nope: %v", err)
	}
	if _, err := h.sup.Status([]string{"aa", "bb"}); err == nil || err.Error() != `unknown service: aa (did you mean "a"?), bb (did you mean "b"?)` {
		t.Errorf("status aa bb: %v, want a did-you-mean for each", err)
	}
	files, err := h.sup.LogFiles([]string{"a"})
	if err != nil || len(files) != 1 {
		t.Fatalf("log files: %v, %v", files, err)
	}
	trapped := func(runs int) func() bool {
		return func() bool {
			b, _ := os.ReadFile(files[0].Path)
			return strings.Count(string(b), "trapping") >= runs
		}
	}
	eventually(t, "the first run's trap", trapped(1))
	res, err := h.sup.RestartServices(context.Background(), []string{"a"})
	if err != nil || len(res) != 1 || res[0].Pid == a.Pid || res[0].Pid == 0 {
		t.Fatalf("restart a: %+v, %v; want a new pid", res, err)
	}
	// The new run has set its trap once it says so.
	eventually(t, "the new run's trap", trapped(2))
	// USR1, not HUP: a test run under nohup has HUP ignored, which its
	// children inherit and a shell then cannot trap.
	res, err = h.sup.SignalServices(context.Background(), syscall.SIGUSR1, []string{"a"})
	if err != nil || len(res) != 1 || res[0].Error != "" {
		t.Fatalf("signal a: %+v, %v", res, err)
	}
	eventually(t, "a's trap to print", func() bool {
		b, _ := os.ReadFile(files[0].Path)
		return strings.Contains(string(b), "got-usr1")
	})
	if res, _ := h.sup.SignalServices(context.Background(), syscall.SIGHUP, []string{"b"}); len(res) != 1 || res[0].Error == "" {
		t.Errorf("signal b (no process): %+v, want an error", res)
	}
	w, err := h.sup.Why("b")
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Exits) != 1 || w.Exits[0].ExitCode == nil || *w.Exits[0].ExitCode != 4 {
		t.Errorf("why b: exits %+v, want one exit 4", w.Exits)
	}
	if samples := h.sup.Samples(); len(samples) != 2 {
		t.Errorf("%d metric samples, want one per service", len(samples))
	}
	st, err := h.sup.Status(nil)
	if err != nil || len(st.Services) != 2 || st.Supervisor.Config == "" || st.Supervisor.StartedAt.IsZero() {
		t.Errorf("status: %+v, %v", st, err)
	}
}

// A reload applies its plan: added services start, removed ones stop and
// go, changed ones restart, the rest keep their process.
func TestReloadAppliesThePlan(t *testing.T) {
	var next *config.Config
	var mu sync.Mutex // guards next
	h := newHarness(t, `  keep:
    command: [sleep, "306"]
  change:
    command: [sleep, "307"]
  gone:
    command: [sleep, "308"]
`, func(string) (*config.Config, error) {
		mu.Lock()
		defer mu.Unlock()
		return next, nil
	})
	keep := h.waitState("keep", "running")
	change := h.waitState("change", "running")
	h.waitState("gone", "running")
	cfg := loadConfig(t, h.dir, "r2.yaml", configText(h.dir, `  keep:
    command: [sleep, "306"]
  change:
    command: [sleep, "317"]
  added:
    command: [sleep, "309"]
`))
	mu.Lock()
	next = cfg
	mu.Unlock()
	plan, err := h.sup.Reload(context.Background(), true)
	if err != nil || plan.Applied || strings.Join(plan.Add, ",") != "added" {
		t.Fatalf("dry run: %+v, %v", plan, err)
	}
	if _, err := h.sup.Status([]string{"added"}); err == nil {
		t.Fatal("a dry run added a service")
	}
	plan, err = h.sup.Reload(context.Background(), false)
	if err != nil || !plan.Applied {
		t.Fatalf("reload: %+v, %v", plan, err)
	}
	if got := fmt.Sprint(plan.Add, plan.Remove, plan.Restart, plan.Unchanged); got != "[added] [gone] [change] [keep]" {
		t.Errorf("plan %s", got)
	}
	h.waitState("added", "running")
	eventually(t, "change restarted", func() bool { r := h.row("change"); return r.State == "running" && r.Pid != change.Pid })
	if r := h.row("keep"); r.Pid != keep.Pid {
		t.Errorf("keep's pid %d, was %d: an unchanged service was restarted", r.Pid, keep.Pid)
	}
	var unknown *UnknownServiceError
	if _, err := h.sup.Status([]string{"gone"}); !errors.As(err, &unknown) {
		t.Errorf("gone is still there: %v", err)
	}
	// A state dir that moves is refused, and nothing changes.
	moved := loadConfig(t, h.dir, "r3.yaml", strings.Replace(configText(h.dir, "  keep:\n    command: [sleep, \"306\"]\n"), "/state}", "/elsewhere}", 1))
	mu.Lock()
	next = moved
	mu.Unlock()
	var refused *ReloadRefusedError
	if _, err := h.sup.Reload(context.Background(), false); !errors.As(err, &refused) {
		t.Errorf("reload moving the state dir: %v, want a refusal", err)
	}
	if _, err := h.sup.Status([]string{"added"}); err != nil {
		t.Errorf("a refused reload changed the set: %v", err)
	}
}

// A scheduled oneshot runs on its timetable, and status says when next.
func TestScheduleRunsTheOneshot(t *testing.T) {
	out := filepath.Join(t.TempDir(), "runs")
	h := newHarness(t, fmt.Sprintf(`  tick:
    kind: oneshot
    command: [sh, -c, "echo run >> %s"]
    schedule: "@every 1s"
`, out), nil)
	eventually(t, "two runs", func() bool {
		b, _ := os.ReadFile(out)
		return strings.Count(string(b), "run") >= 2
	})
	r := h.row("tick")
	if r.NextRunAt == nil || r.NextRunAt.Before(time.Now().Add(-time.Second)) {
		t.Errorf("next run at %v, want one ahead", r.NextRunAt)
	}
	if tr := h.transitions("tick"); len(tr) == 0 {
		t.Error("no transitions journaled for the scheduled runs")
	}
}

// A forking service's daemon is adopted from its pidfile; an external one is
// found by its command line and watched.
func TestForkingAndExternalKinds(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "d.pid")
	marker := fmt.Sprintf("312.%d", time.Now().UnixNano()%1e9) // sleep's argument, unique
	h := newHarness(t, fmt.Sprintf(`  forking:
    kind: forking
    command: [sh, -c, "sleep 311 & echo $! > %s"]
    pidfile: %s
  ext:
    kind: external
    match: "^sleep %s$"
    start: [sh, -c, "setsid sleep %s </dev/null >/dev/null 2>&1 &"]
`, pidfile, pidfile, marker, marker), nil)
	f := h.waitState("forking", "running")
	b, _ := os.ReadFile(pidfile)
	if want := strings.TrimSpace(string(b)); fmt.Sprint(f.Pid) != want {
		t.Errorf("forking runs as pid %d, its pidfile says %s", f.Pid, want)
	}
	e := h.waitState("ext", "running")
	t.Cleanup(func() { _ = syscall.Kill(e.Pid, syscall.SIGKILL) })
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", e.Pid))
	if !strings.Contains(strings.ReplaceAll(string(cmdline), "\x00", " "), marker) {
		t.Errorf("ext runs as pid %d, whose command line is %q", e.Pid, cmdline)
	}
	// The adopted daemon's death is an exit like any other: respawned.
	if err := syscall.Kill(f.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "forking respawned", func() bool { r := h.row("forking"); return r.State == "running" && r.Pid != f.Pid })
}

// Readiness from an output line and from sd_notify; a failing liveness
// check restarts the service.
func TestProbes(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "healthy")
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, fmt.Sprintf(`  logready:
    command: [sh, -c, "sleep 0.2; echo listening now; exec sleep 313"]
    ready: {log: "listening", timeout: 30s}
  notified:
    command: [sh, -c, "sleep 0.2; systemd-notify --ready; exec sleep 314"]
    ready: {notify: true, timeout: 30s}
  checked:
    command: [sleep, "315"]
    health: {exec: [test, -f, %s], interval: 50ms, failures: 2}
`, flag), nil)
	h.waitState("logready", "running")
	h.waitState("notified", "running")
	c := h.waitState("checked", "running")
	eventually(t, "checked healthy", func() bool { return h.row("checked").Health == "healthy" })
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	eventually(t, "checked restarted for failing its check", func() bool {
		r := h.row("checked")
		return r.Pid != c.Pid && r.Pid != 0
	})
	w, err := h.sup.Why("checked")
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Exits) == 0 || !strings.Contains(w.Exits[0].Decision, "unhealthy") {
		t.Errorf("why checked: %+v, want an exit decided by the liveness check", w.Exits)
	}
}

// Reloads run one at a time on the loop, beside commands and status, and a
// shutdown waits for the one under way and refuses the next.
func TestReloadsAreSerializedAndEndWithShutdown(t *testing.T) {
	h := newHarness(t, `  a:
    command: [sleep, "316"]
`, func(path string) (*config.Config, error) {
		return config.Load(path, os.LookupEnv)
	})
	h.waitState("a", "running")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			p, err := h.sup.Reload(context.Background(), false)
			if err == nil && (!p.Applied || strings.Join(p.Unchanged, ",") != "a") {
				err = fmt.Errorf("plan %+v", p)
			}
			errs <- err
		})
		wg.Go(func() {
			_, err := h.sup.Status(nil)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.sup.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.sup.Reload(context.Background(), false); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("reload after shutdown: %v, want ErrShuttingDown", err)
	}
}

func TestCPUPercent(t *testing.T) {
	m := &member{}
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	// The first measurement of a run: since it began.
	if got := m.cpuPercent(t0.Add(2*time.Second), t0, time.Second, 0); got != 50 {
		t.Errorf("first: %v, want 50", got)
	}
	// Then over the time since the previous one.
	if got := m.cpuPercent(t0.Add(3*time.Second), t0, 1900*time.Millisecond, 0); got < 89.9 || got > 90.1 {
		t.Errorf("second: %v, want 90", got)
	}
	// Too soon after: the previous figure.
	if got := m.cpuPercent(t0.Add(3100*time.Millisecond), t0, 2*time.Second, 0); got < 89.9 || got > 90.1 {
		t.Errorf("too soon: %v, want the previous 90", got)
	}
	// A new run starts afresh.
	t1 := t0.Add(10 * time.Second)
	if got := m.cpuPercent(t1.Add(time.Second), t1, 250*time.Millisecond, 0); got != 25 {
		t.Errorf("new run: %v, want 25", got)
	}
}

// status measures each running service: a CPU burner shows its CPU, every
// running service its memory; a stopped one shows neither.
func TestStatusMeasuresUsage(t *testing.T) {
	h := newHarness(t, `  burn:
    command: [sh, -c, "while :; do :; done"]
  idle:
    command: [sleep, "317"]
  off:
    command: [sleep, "318"]
    autostart: false
`, nil)
	h.waitState("burn", "running")
	h.waitState("idle", "running")
	// The burner gets its share of the machine: most of a CPU when quiet,
	// a quarter of one beside a stress run's hogs and suites (CI beside
	// one measured less than half a CPU for it). An idle process stays
	// under 20 %.
	eventually(t, "burn's CPU", func() bool {
		r := h.row("burn")
		return r.CPUPercent != nil && *r.CPUPercent >= 20
	})
	// Just started, a run's exec is most of its life: later windows settle.
	eventually(t, "idle near 0 % with some memory", func() bool {
		r := h.row("idle")
		return r.CPUPercent != nil && *r.CPUPercent < 20 && r.MemoryBytes != nil && *r.MemoryBytes > 0
	})
	if off := h.row("off"); off.CPUPercent != nil || off.MemoryBytes != nil {
		t.Errorf("off: cpu %v memory %v, want null", off.CPUPercent, off.MemoryBytes)
	}
}
