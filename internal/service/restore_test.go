package service

import (
	"context"
	"encoding/json"
	"reflect"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/policy"
	"github.com/respawn-sh/respawn/internal/proc"
)

// recJournal keeps what the service records.
type recJournal struct {
	mu     sync.Mutex
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
	return append([]api.Event(nil), j.events...)
}

// startActor runs s in the current synctest bubble until the test ends.
func startActor(t *testing.T, s *Service) {
	t.Helper()
	s.Go()
	cancel := s.End
	done := s.Ended()
	t.Cleanup(func() { cancel(); <-done })
}

func newFake(pid int) *fakeProc {
	return &fakeProc{pid: pid, started: time.Now().Add(-time.Second), done: make(chan struct{}),
		dieOn: map[syscall.Signal]bool{syscall.SIGTERM: true}}
}

// fakeOutput is a run's output as a keeper would hand it.
type fakeOutput struct {
	drained chan struct{}
	lines   []logs.Line
	matched chan struct{}
}

func (o *fakeOutput) Match(*regexp.Regexp) <-chan struct{} { return o.matched }
func (o *fakeOutput) Drained() <-chan struct{}             { return o.drained }
func (o *fakeOutput) Lines() []logs.Line                   { return o.lines }

// outProc is a process whose output is captured elsewhere.
type outProc struct {
	*fakeProc
	out *fakeOutput
}

func (p outProc) Output() RunOutput { return p.out }

func savedRunning() Saved {
	started := time.Now().Add(-time.Second)
	return Saved{
		State: "running", Wanted: true, Gen: 5, StartedAt: started, Restarts: 3,
		Hist:       policy.History{Attempt: 2, Starts: []time.Time{started}},
		ExitCounts: map[string]uint64{"failure": 4},
		Exits:      []ExitRecord{{Gen: 4, Pid: 41, Exit: proc.Exit{Code: 1}, Decision: "restart in 200ms"}},
		Health:     Healthy,
	}
}

func TestRestoreRunningResumesWithoutEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		j := &recJournal{}
		watched := make(chan Incarnation, 1)
		cfg := testConfig()
		cfg.Probes.Watch = func(ctx context.Context, inc Incarnation, _ func(bool, error), _ func(error)) {
			watched <- inc
			<-ctx.Done()
		}
		s := New(cfg, Options{Runner: r, Journal: j})
		p := newFake(77)
		if start := s.Restore(savedRunning(), p); start {
			t.Error("Restore of a live process asked for a start")
		}
		startActor(t, s)
		inc := <-watched
		if inc.Gen != 5 || inc.Pid != 77 {
			t.Errorf("liveness watch armed for gen %d pid %d, want gen 5 pid 77", inc.Gen, inc.Pid)
		}
		snap := s.Snapshot()
		if snap.State != Running || snap.Pid != 77 || snap.Gen != 5 || snap.Restarts != 3 || snap.Attempt != 2 ||
			!snap.Wanted || snap.Health != Healthy || snap.ExitCounts["failure"] != 4 || len(snap.Exits) != 1 ||
			snap.LastExit == nil || snap.LastExit.Code != 1 {
			t.Errorf("restored snapshot = %+v", snap)
		}
		synctest.Wait()
		if n := len(r.spawned()); n != 0 {
			t.Errorf("spawned %d processes, want none", n)
		}
		if ev := j.all(); len(ev) != 0 {
			t.Errorf("restoration recorded %v, want nothing", ev)
		}
		// It is the live incarnation: a stop reaches it.
		seq, err := s.Stop(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		awaitState(t, s, seq, Stopped)
		if len(p.signals) == 0 || p.signals[0] != syscall.SIGTERM {
			t.Errorf("signals = %v, want SIGTERM", p.signals)
		}
	})
}

func TestRestoreStartingRearmsReadiness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		asked := make(chan Incarnation, 1)
		release := make(chan struct{})
		cfg.Probes.Ready = func(ctx context.Context, inc Incarnation) error {
			asked <- inc
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		r := &fakeRunner{}
		s := New(cfg, Options{Runner: r})
		saved := savedRunning()
		saved.State = "starting"
		out := &fakeOutput{drained: make(chan struct{}), matched: make(chan struct{})}
		p := outProc{newFake(78), out}
		if s.Restore(saved, p) {
			t.Error("Restore of a live process asked for a start")
		}
		if st := s.Snapshot().State; st != Starting {
			t.Fatalf("state = %s, want starting", st)
		}
		startActor(t, s)
		inc := <-asked
		if inc.Gen != 5 || inc.Process != Process(p) || inc.Output != RunOutput(out) {
			t.Errorf("readiness asked about gen %d, process %v, output %v", inc.Gen, inc.Process, inc.Output)
		}
		close(release)
		snap := awaitState(t, s, 0, Running)
		if snap.Gen != 5 || snap.Pid != 78 {
			t.Errorf("running gen %d pid %d, want the restored gen 5 pid 78", snap.Gen, snap.Pid)
		}
		if n := len(r.spawned()); n != 0 {
			t.Errorf("spawned %d processes, want none", n)
		}
	})
}

func TestRestoreExitedWhileAwayRespawns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		j := &recJournal{}
		s := New(testConfig(), Options{Runner: r, Journal: j})
		out := &fakeOutput{drained: make(chan struct{}), lines: []logs.Line{{Stream: logs.Stderr, Text: "boom"}}}
		close(out.drained)
		p := outProc{newFake(79), out}
		p.finish(proc.Exit{Code: 3})
		if s.Restore(savedRunning(), p) {
			t.Error("Restore of a process asked for a start")
		}
		startActor(t, s)
		snap := awaitState(t, s, 0, Backoff)
		// Attempt 2 restored, then one more failure: the third backoff step.
		if snap.Attempt != 3 {
			t.Errorf("attempt = %d, want 3 (restored 2, plus this exit)", snap.Attempt)
		}
		if got := snap.NextRetryAt.Sub(time.Now()); got != 400*time.Millisecond {
			t.Errorf("backoff = %v, want 400ms (third step)", got)
		}
		snap = awaitState(t, s, snap.Seq+1, Running)
		if snap.Gen != 6 || snap.Restarts != 4 || len(r.spawned()) != 1 {
			t.Errorf("after respawn: gen %d restarts %d spawned %d, want 6, 4, 1", snap.Gen, snap.Restarts, len(r.spawned()))
		}
		synctest.Wait()
		snap = s.Snapshot()
		if len(snap.Exits) != 2 {
			t.Fatalf("exits = %+v, want the restored one and gen 5's", snap.Exits)
		}
		e := snap.Exits[1]
		if e.Gen != 5 || e.Pid != 79 || e.Exit.Code != 3 || len(e.LastLines) != 1 || e.LastLines[0].Text != "boom" {
			t.Errorf("exit record = %+v", e)
		}
		if snap.ExitCounts["failure"] != 5 {
			t.Errorf("exit counts = %v, want failure 5", snap.ExitCounts)
		}
		evs := j.all()
		if len(evs) == 0 || evs[0].Type != api.EventExit || evs[0].Gen != 5 {
			t.Fatalf("first journal event = %+v, want the exit of gen 5", evs)
		}
	})
}

func TestRestoreWithoutProcess(t *testing.T) {
	cases := []struct {
		state  string
		wanted bool
		want   State
		start  bool
	}{
		{"failed", true, Failed, false},
		{"exited", true, Exited, false},
		{"stopped", false, Stopped, false},
		{"running", false, Stopped, false},
		{"running", true, Stopped, true},
		{"backoff", true, Stopped, true},
		{"waiting", true, Stopped, true},
		{"nonsense", true, Stopped, true},
	}
	for _, c := range cases {
		s := New(testConfig(), Options{Runner: &fakeRunner{}})
		saved := savedRunning()
		saved.State, saved.Wanted = c.state, c.wanted
		start := s.Restore(saved, nil)
		snap := s.Snapshot()
		if start != c.start || snap.State != c.want || snap.Restarts != 3 || snap.Gen != 5 || snap.Attempt != 2 {
			t.Errorf("%s wanted=%v: start %v state %s restarts %d gen %d attempt %d; want start %v state %s",
				c.state, c.wanted, start, snap.State, snap.Restarts, snap.Gen, snap.Attempt, c.start, c.want)
		}
		if c.want == Failed && snap.Error != "restart in 200ms" {
			t.Errorf("failed error = %q, want the last decision", snap.Error)
		}
	}
}

func TestRestoreFailedStaysFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		s := New(testConfig(), Options{Runner: r})
		saved := savedRunning()
		saved.State = "failed"
		if s.Restore(saved, nil) {
			t.Error("a failed service asked for a start")
		}
		startActor(t, s)
		time.Sleep(time.Hour)
		synctest.Wait()
		if st, n := s.Snapshot().State, len(r.spawned()); st != Failed || n != 0 {
			t.Errorf("after an hour: state %s, %d spawned; want failed, none", st, n)
		}
	})
}

func TestRestoreStoppedWantedStartsKeepingHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{behave: func(p *fakeProc) { p.finish(proc.Exit{Code: 1}) }}
		s := New(testConfig(), Options{Runner: r})
		saved := savedRunning()
		saved.State = "backoff"
		if !s.Restore(saved, nil) {
			t.Fatal("a wanted service without process did not ask for a start")
		}
		startActor(t, s)
		seq, err := s.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		snap := awaitState(t, s, seq, Backoff)
		if snap.Gen != 6 || snap.Attempt != 3 || snap.Restarts != 3 {
			t.Errorf("gen %d attempt %d restarts %d, want 6, 3 (history kept), 3", snap.Gen, snap.Attempt, snap.Restarts)
		}
		// A person's start afterwards resets the history as always.
		seq, _ = s.Stop(context.Background())
		awaitState(t, s, seq, Stopped)
		seq, _ = s.Start(context.Background())
		snap = awaitState(t, s, seq, Backoff)
		if snap.Attempt != 1 {
			t.Errorf("attempt after a person's start = %d, want 1", snap.Attempt)
		}
	})
}

func TestSaveOnlyOnChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var saves []Saved
		r := &fakeRunner{}
		s := New(testConfig(), Options{Runner: r, Save: func(v Saved) {
			mu.Lock()
			saves = append(saves, v)
			mu.Unlock()
		}})
		startActor(t, s)
		got := func() []Saved {
			mu.Lock()
			defer mu.Unlock()
			return append([]Saved(nil), saves...)
		}
		seq, _ := s.Start(context.Background())
		awaitState(t, s, seq, Running)
		first := got()
		if len(first) == 0 {
			t.Fatal("no save after a start")
		}
		last := first[len(first)-1]
		if last.State != "running" || !last.Wanted || last.Gen != 1 || len(last.Hist.Starts) != 1 {
			t.Errorf("saved = %+v, want running, wanted, gen 1, one start", last)
		}
		// A start of a running service publishes, but changes nothing.
		if _, err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := len(got()); n != len(first) {
			t.Errorf("saves after a no-op start = %d, want %d", n, len(first))
		}
		// A crash and respawn: the earlier value is not rewritten behind the caller.
		startsBefore := append([]time.Time(nil), last.Hist.Starts...)
		r.spawned()[0].finish(proc.Exit{Code: 1})
		snap := awaitState(t, s, 0, Backoff)
		awaitState(t, s, snap.Seq+1, Running)
		synctest.Wait()
		all := got()
		for i := 1; i < len(all); i++ {
			if sameSaved(all[i-1], all[i]) {
				t.Errorf("save %d repeats save %d: %+v", i, i-1, all[i])
			}
		}
		if !reflect.DeepEqual(last.Hist.Starts, startsBefore) {
			t.Errorf("an earlier save's starts changed: %v, was %v", last.Hist.Starts, startsBefore)
		}
		end := all[len(all)-1]
		if end.Gen != 2 || end.Restarts != 1 || end.ExitCounts["failure"] != 1 || len(end.Exits) != 1 {
			t.Errorf("last save = %+v, want gen 2, 1 restart, 1 failure", end)
		}
	})
}

func TestSavedJSONRoundTrip(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC)
	in := Saved{
		State: "backoff", Wanted: true, Gen: 9, StartedAt: at, Restarts: 2,
		Hist:       policy.History{Attempt: 2, Starts: []time.Time{at, at.Add(time.Second)}},
		ExitCounts: map[string]uint64{"failure": 2, "signal": 1},
		Exits: []ExitRecord{{
			Gen: 8, Pid: 1234, StartedAt: at, OOM: true, Decision: "restart in 1s",
			Exit:      proc.Exit{Code: -1, Signal: 9, Core: true, At: at.Add(time.Minute), Unknown: true},
			LastLines: []logs.Line{{Time: at, Stream: logs.Stderr, Text: "out of memory"}, {Time: at, Stream: logs.Stdout, Text: "x"}},
		}},
		Health: Unhealthy,
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Saved
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip changed it:\n in %+v\nout %+v", in, out)
	}
}

// outRunner spawns processes whose output it captures itself.
type outRunner struct {
	fakeRunner
	got  Output
	outs []*fakeOutput
}

func (r *outRunner) SpawnOutput(spec proc.Spec, out Output) (Process, error) {
	p, err := r.fakeRunner.Spawn(spec)
	if err != nil {
		return nil, err
	}
	o := &fakeOutput{drained: make(chan struct{}), matched: make(chan struct{}),
		lines: []logs.Line{{Stream: logs.Stdout, Text: "last words"}}}
	r.mu.Lock()
	r.got = out
	r.outs = append(r.outs, o)
	r.mu.Unlock()
	return outProc{p.(*fakeProc), o}, nil
}

type nopOutput struct{}

func (nopOutput) Path() string { return "/logs/svc.log" }

func TestRunnerCapturesOutput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &outRunner{}
		cfg := testConfig()
		cfg.Probes.Ready = func(ctx context.Context, inc Incarnation) error {
			select {
			case <-inc.Output.Match(regexp.MustCompile("ready")):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		sink := nopOutput{}
		s := New(cfg, Options{Runner: r, Output: sink})
		startActor(t, s)
		seq, _ := s.Start(context.Background())
		awaitState(t, s, seq, Starting)
		r.mu.Lock()
		o, got := r.outs[0], r.got
		r.mu.Unlock()
		if got != Output(sink) {
			t.Errorf("SpawnOutput got output %v, want the service's", got)
		}
		close(o.matched)
		awaitState(t, s, seq, Running)
		r.spawned()[0].finish(proc.Exit{Code: 1})
		snap := awaitState(t, s, 0, Backoff)
		synctest.Wait()
		if len(s.Snapshot().Exits[0].LastLines) != 0 {
			t.Error("last lines filed before the output was drained")
		}
		close(o.drained)
		err := s.Await(context.Background(), snap.Seq+1, func(sn Snapshot) (bool, error) {
			return len(sn.Exits) > 0 && len(sn.Exits[0].LastLines) == 1, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if l := s.Snapshot().Exits[0].LastLines[0].Text; l != "last words" {
			t.Errorf("last line = %q", l)
		}
	})
}

// A service saves nothing before it changes: a blank state saved by a
// restarted core would replace, in the keeper, the history it restores.
func TestNewAndRestoreSaveNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var saves []Saved
		s := New(testConfig(), Options{Runner: &fakeRunner{}, Save: func(v Saved) {
			mu.Lock()
			saves = append(saves, v)
			mu.Unlock()
		}})
		s.Restore(Saved{State: "exited", Gen: 3, Restarts: 2, Hist: policy.History{Attempt: 1}}, nil)
		startActor(t, s)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(saves) != 0 {
			t.Errorf("saves = %+v, want none", saves)
		}
	})
}
