package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/respawn-sh/respawn/internal/policy"
	"github.com/respawn-sh/respawn/internal/proc"
)

// fakeProc is a process whose life the test controls.
type fakeProc struct {
	pid     int
	started time.Time
	done    chan struct{}
	once    sync.Once

	mu      sync.Mutex // guards the fields below
	exit    proc.Exit
	signals []syscall.Signal
	kills   int
	// dieOn lists the signals the process dies of; KillTree always kills it.
	dieOn map[syscall.Signal]bool
	// onDone is called once done is closed (OnDone), as keeper.Process does.
	onDone func()
}

func (p *fakeProc) Pid() int             { return p.pid }
func (p *fakeProc) StartedAt() time.Time { return p.started }
func (p *fakeProc) Stdout() *os.File     { return nil }
func (p *fakeProc) Stderr() *os.File     { return nil }
func (p *fakeProc) Done() <-chan struct{} {
	return p.done
}
func (p *fakeProc) Exit() proc.Exit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

func (p *fakeProc) finish(e proc.Exit) {
	p.once.Do(func() {
		p.mu.Lock()
		e.At = time.Now()
		p.exit = e
		p.mu.Unlock()
		close(p.done)
		p.mu.Lock()
		f := p.onDone
		p.onDone = nil
		p.mu.Unlock()
		if f != nil {
			f()
		}
	})
}

// OnDone calls f once the process ended, as keeper.Process does: the actor
// parks while it runs.
func (p *fakeProc) OnDone(f func()) {
	p.mu.Lock()
	select {
	case <-p.done:
		p.mu.Unlock()
		f()
		return
	default:
	}
	p.onDone = f
	p.mu.Unlock()
}

func (p *fakeProc) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	p.signals = append(p.signals, sig)
	dies := p.dieOn[sig]
	p.mu.Unlock()
	if dies {
		p.finish(proc.Exit{Code: -1, Signal: int(sig)})
	}
	return nil
}

func (p *fakeProc) KillTree() error {
	p.mu.Lock()
	p.kills++
	p.mu.Unlock()
	p.finish(proc.Exit{Code: -1, Signal: int(syscall.SIGKILL)})
	return nil
}

func (p *fakeProc) WaitTreeGone(ctx context.Context) error { return nil }

// fakeRunner hands out fakeProcs; behave decides what each one does once started.
type fakeRunner struct {
	mu     sync.Mutex // guards the fields below
	procs  []*fakeProc
	names  []string // the process name of each spawn
	err    error
	behave func(p *fakeProc)
	// plain hands out processes that cannot call back on their end, as
	// proc.Process: the actor cannot park while one runs.
	plain bool
}

// plainProc is a fakeProc without OnDone.
type plainProc struct{ Process }

func (r *fakeRunner) Spawn(spec proc.Spec) (Process, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	p := &fakeProc{pid: 1000 + len(r.procs), started: time.Now(), done: make(chan struct{}),
		dieOn: map[syscall.Signal]bool{syscall.SIGTERM: true}}
	r.procs = append(r.procs, p)
	r.names = append(r.names, spec.Name)
	if r.behave != nil {
		go r.behave(p)
	}
	if r.plain {
		return plainProc{p}, nil
	}
	return p, nil
}

// SpawnOutput spawns like Spawn: a fakeProc's output is nowhere.
func (r *fakeRunner) SpawnOutput(spec proc.Spec, _ Output) (Process, error) { return r.Spawn(spec) }

func (r *fakeRunner) spawned() []*fakeProc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*fakeProc(nil), r.procs...)
}

func testConfig() Config {
	return Config{
		Name: "svc",
		Kind: KindProcess,
		Policy: policy.Params{
			Mode: policy.Always, Initial: 100 * time.Millisecond, Max: 30 * time.Second, Factor: 2,
			ResetAfter: 30 * time.Second, Burst: 10, Window: 5 * time.Minute, Cooldown: 0,
		},
		StopSignal:  syscall.SIGTERM,
		StopTimeout: 10 * time.Second,
	}
}

// run starts the actor in the current synctest bubble and stops it at the end.
func run(t *testing.T, cfg Config, r *fakeRunner) *Service {
	t.Helper()
	s := New(cfg, Options{Runner: r})
	s.Go()
	cancel := s.End
	done := s.Ended()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func awaitState(t *testing.T, s *Service, seq uint64, want State) Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	err := s.Await(ctx, seq, func(sn Snapshot) (bool, error) { return sn.State == want, nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", want, err)
	}
	return s.Snapshot()
}

func TestCrashLoopBurstThenFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{behave: func(p *fakeProc) { p.finish(proc.Exit{Code: 1}) }}
		cfg := testConfig()
		cfg.Policy.Burst = 4
		s := run(t, cfg, r)
		seq, err := s.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		snap := awaitState(t, s, seq, Failed)
		procs := r.spawned()
		if len(procs) != 4 {
			t.Fatalf("spawned %d times, want exactly 4", len(procs))
		}
		wantGaps := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
		for i := 1; i < len(procs); i++ {
			gap := procs[i].started.Sub(procs[i-1].started)
			if gap != wantGaps[i-1] {
				t.Errorf("gap %d = %v, want %v", i, gap, wantGaps[i-1])
			}
		}
		if snap.Restarts != 3 {
			t.Errorf("restarts = %d, want 3", snap.Restarts)
		}
		if snap.Error == "" || !snap.NextRetryAt.IsZero() {
			t.Errorf("failed snapshot: error %q, next retry %v", snap.Error, snap.NextRetryAt)
		}
		// Nothing more happens: cooldown is 0.
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(r.spawned()); n != 4 {
			t.Errorf("spawned %d times after an hour in failed, want 4", n)
		}
	})
}

func TestCooldownRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{behave: func(p *fakeProc) { p.finish(proc.Exit{Code: 1}) }}
		cfg := testConfig()
		cfg.Policy.Burst = 2
		cfg.Policy.Cooldown = time.Minute
		s := run(t, cfg, r)
		seq, _ := s.Start(context.Background())
		snap := awaitState(t, s, seq, Failed)
		failedAt := time.Now()
		if snap.NextRetryAt.Sub(failedAt) != time.Minute {
			t.Errorf("next retry in %v, want 1m", snap.NextRetryAt.Sub(failedAt))
		}
		// Failed again, after two more runs (other snapshots, such as the
		// filing of a run's last lines, come and go meanwhile).
		err := s.Await(context.Background(), snap.Seq+1, func(sn Snapshot) (bool, error) {
			return sn.State == Failed && sn.Gen == 4, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		procs := r.spawned()
		if len(procs) != 4 {
			t.Fatalf("spawned %d, want 2 + 2 after the cooldown", len(procs))
		}
		if d := procs[2].started.Sub(failedAt); d != time.Minute {
			t.Errorf("cooldown retry after %v, want 1m", d)
		}
	})
}

func TestSpawnErrorFailsAtOnceWithoutRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		serr := &proc.SpawnError{Op: "exec", Path: "./missing", Err: fs.ErrNotExist}
		r := &fakeRunner{err: serr}
		cfg := testConfig()
		cfg.Policy.Cooldown = time.Minute
		s := run(t, cfg, r)
		seq, _ := s.Start(context.Background())
		snap := awaitState(t, s, seq, Failed)
		if snap.Error != serr.Error() {
			t.Errorf("error = %q, want %q", snap.Error, serr.Error())
		}
		if !snap.NextRetryAt.IsZero() {
			t.Errorf("spawn error schedules a retry at %v", snap.NextRetryAt)
		}
		// A person fixes it and starts again.
		r.mu.Lock()
		r.err = nil
		r.mu.Unlock()
		seq, _ = s.Start(context.Background())
		snap = awaitState(t, s, seq, Running)
		if snap.Error != "" || snap.Pid == 0 {
			t.Errorf("after start: error %q pid %d", snap.Error, snap.Pid)
		}
	})
}

func TestStopSignalsThenKillsAfterTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		s := run(t, testConfig(), r)
		seq, _ := s.Start(context.Background())
		awaitState(t, s, seq, Running)
		p := r.spawned()[0]
		p.mu.Lock()
		p.dieOn = nil // ignores TERM
		p.mu.Unlock()
		t0 := time.Now()
		seq, _ = s.Stop(context.Background())
		snap := awaitState(t, s, seq, Stopped)
		if d := time.Since(t0); d != 10*time.Second {
			t.Errorf("stopped after %v, want the 10s stop timeout", d)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.signals) != 1 || p.signals[0] != syscall.SIGTERM || p.kills < 1 {
			t.Errorf("signals %v kills %d", p.signals, p.kills)
		}
		if snap.Pid != 0 || snap.Wanted {
			t.Errorf("stopped snapshot pid %d wanted %v", snap.Pid, snap.Wanted)
		}
	})
}

func TestRestartGivesNewIncarnation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		s := run(t, testConfig(), r)
		seq, _ := s.Start(context.Background())
		first := awaitState(t, s, seq, Running)
		seq, _ = s.Restart(context.Background())
		ctx := context.Background()
		err := s.Await(ctx, seq, func(sn Snapshot) (bool, error) { return sn.State == Running && sn.Gen > first.Gen, nil })
		if err != nil {
			t.Fatal(err)
		}
		second := s.Snapshot()
		if second.Pid == first.Pid || second.Restarts != 0 {
			t.Errorf("restart: pid %d -> %d, restarts %d", first.Pid, second.Pid, second.Restarts)
		}
		if old := r.spawned()[0]; old.kills == 0 && len(old.signals) == 0 {
			t.Error("old incarnation was never signalled")
		}
	})
}

func TestOneshotExitsAndBackoffResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		runs := 0
		r := &fakeRunner{behave: func(p *fakeProc) {
			time.Sleep(time.Second)
			code := 0
			if p.pid < 1002 { // the first two runs fail
				code = 2
			}
			p.finish(proc.Exit{Code: code})
		}}
		cfg := testConfig()
		cfg.Kind = KindOneshot
		cfg.Policy.Mode = policy.OnFailure
		s := run(t, cfg, r)
		seq, _ := s.Start(context.Background())
		snap := awaitState(t, s, seq, Exited)
		runs = len(r.spawned())
		if runs != 3 || snap.Restarts != 2 {
			t.Errorf("runs %d restarts %d, want 3 and 2", runs, snap.Restarts)
		}
		if len(snap.Exits) != 3 || snap.Exits[0].Exit.Code != 2 || snap.Exits[2].Exit.Code != 0 {
			t.Errorf("exit history %+v", snap.Exits)
		}
	})
}

func TestCommandsDuringStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		s := run(t, testConfig(), r)
		seq, _ := s.Start(context.Background())
		awaitState(t, s, seq, Running)
		p := r.spawned()[0]
		p.mu.Lock()
		p.dieOn = nil
		p.mu.Unlock()
		seq, _ = s.Stop(context.Background())
		awaitState(t, s, seq, Stopping)
		// Starting while it stops: once the old one is gone, a new one starts.
		seq, _ = s.Start(context.Background())
		snap := awaitState(t, s, seq, Running)
		if snap.Gen != 2 || len(r.spawned()) != 2 {
			t.Errorf("gen %d spawns %d, want 2 and 2", snap.Gen, len(r.spawned()))
		}
	})
}

func TestAwaitHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := run(t, testConfig(), &fakeRunner{})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := s.Await(ctx, 0, func(Snapshot) (bool, error) { return false, nil })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestExitHistoryIsBounded(t *testing.T) {
	var list []ExitRecord
	for i := range 25 {
		list = appendExit(list, ExitRecord{Gen: uint64(i)})
	}
	if len(list) != maxExits || list[0].Gen != 15 || list[maxExits-1].Gen != 24 {
		t.Fatalf("history %v", fmt.Sprint(len(list), list[0].Gen))
	}
}

func TestCommandsToAnEndedActorFailFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(testConfig(), Options{Runner: &fakeRunner{}})
		s.Go()
		cancel := s.End
		done := s.Ended()
		cancel()
		<-done
		if _, err := s.Start(context.Background()); !errors.Is(err, ErrNotRunning) {
			t.Fatalf("start after the actor ended: %v", err)
		}
	})
}

func TestGateHoldsSpawnsWithoutSpendingBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		open := false
		gate := func() (bool, Wait) {
			mu.Lock()
			defer mu.Unlock()
			return open, Wait{On: "db (backoff)"}
		}
		r := &fakeRunner{}
		cfg := testConfig()
		cfg.Policy.Burst = 1
		s := New(cfg, Options{Runner: r, Gate: gate})
		s.Go()
		defer s.End()
		for range 3 { // starts while the gate is closed never spawn
			seq, _ := s.Start(context.Background())
			snap := awaitState(t, s, seq, Waiting)
			if snap.WaitingOn != "db (backoff)" || !snap.Wanted || snap.Attempt != 0 {
				t.Fatalf("waiting snapshot %+v", snap)
			}
		}
		if n := len(r.spawned()); n != 0 {
			t.Fatalf("spawned %d times behind a closed gate", n)
		}
		mu.Lock()
		open = true
		mu.Unlock()
		seq, _ := s.Release(context.Background())
		snap := awaitState(t, s, seq, Running)
		if snap.Restarts != 0 || len(r.spawned()) != 1 || snap.WaitingOn != "" {
			t.Errorf("after release: %+v, %d spawns", snap, len(r.spawned()))
		}
		// A burst of 1 was not used up by the waits: the one start is the first.
		if snap.StartsInWindow != 1 {
			t.Errorf("starts in window %d, want 1", snap.StartsInWindow)
		}
	})
}

func TestReadinessGatesRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		cfg := testConfig()
		cfg.Probes.Ready = func(ctx context.Context, inc Incarnation) error {
			select {
			case <-time.After(3 * time.Second):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		s := run(t, cfg, r)
		t0 := time.Now()
		seq, _ := s.Start(context.Background())
		synctest.Wait()
		if st := s.Snapshot().State; st != Starting {
			t.Fatalf("before the probe passed: %s", st)
		}
		awaitState(t, s, seq, Running)
		if d := time.Since(t0); d != 3*time.Second {
			t.Errorf("running after %v, want 3s", d)
		}
	})
}

func TestReadinessDeadlineIsAFailedStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		cfg := testConfig()
		cfg.Policy.Burst = 2
		cfg.Probes.Ready = func(ctx context.Context, inc Incarnation) error {
			select {
			case <-time.After(time.Second):
				return errors.New("deadline passed: connection refused")
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		s := run(t, cfg, r)
		seq, _ := s.Start(context.Background())
		snap := awaitState(t, s, seq, Failed)
		if n := len(r.spawned()); n != 2 {
			t.Errorf("spawned %d times, want 2 (burst)", n)
		}
		if len(snap.Exits) != 2 || !strings.Contains(snap.Exits[0].Decision, "not ready: deadline passed") {
			t.Errorf("exits: %+v", snap.Exits)
		}
	})
}

// A run that missed its readiness deadline is stopped like any other: the
// stop signal first, SIGKILL only once the stop timeout has passed.
func TestReadinessDeadlineStopsWithTheStopSignal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		cfg := testConfig()
		cfg.StopSignal = syscall.SIGINT // the fake ignores it: only the kill ends it
		cfg.StopTimeout = 5 * time.Second
		cfg.Probes.Ready = func(ctx context.Context, inc Incarnation) error {
			select {
			case <-time.After(time.Second):
				return errors.New("deadline passed")
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		s := run(t, cfg, r)
		t0 := time.Now()
		seq, _ := s.Start(context.Background())
		snap := awaitState(t, s, seq, Stopping)
		if d := time.Since(t0); d != time.Second {
			t.Errorf("stopping after %v, want the 1s deadline", d)
		}
		p := r.spawned()[0]
		p.mu.Lock()
		signals, kills := append([]syscall.Signal(nil), p.signals...), p.kills
		p.mu.Unlock()
		if len(signals) != 1 || signals[0] != syscall.SIGINT || kills != 0 {
			t.Fatalf("at the deadline: signals %v, kills %d; want the stop signal alone", signals, kills)
		}
		snap = awaitState(t, s, snap.Seq, Backoff)
		if d := time.Since(t0); d != 6*time.Second {
			t.Errorf("killed after %v, want deadline + stop timeout = 6s", d)
		}
		p.mu.Lock()
		kills = p.kills
		p.mu.Unlock()
		if kills == 0 {
			t.Errorf("never killed")
		}
		if len(snap.Exits) != 1 || !strings.Contains(snap.Exits[0].Decision, "not ready: deadline passed") {
			t.Errorf("exits: %+v", snap.Exits)
		}
	})
}

// A run that exits cleanly on its stop signal after missing its readiness
// deadline is still a failed start, even for restart: on-failure.
func TestReadinessDeadlineCleanExitIsAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		cfg := testConfig()
		cfg.Policy.Mode = policy.OnFailure
		cfg.Probes.Ready = func(ctx context.Context, inc Incarnation) error {
			select {
			case <-time.After(time.Second):
				return errors.New("deadline passed")
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		r.behave = func(p *fakeProc) { p.mu.Lock(); p.dieOn = nil; p.mu.Unlock() }
		s := run(t, cfg, r)
		seq, _ := s.Start(context.Background())
		snap := awaitState(t, s, seq, Stopping)
		r.spawned()[0].finish(proc.Exit{Code: 0})
		snap = awaitState(t, s, snap.Seq, Backoff)
		if len(snap.Exits) != 1 || !strings.Contains(snap.Exits[0].Decision, "not ready") {
			t.Errorf("exits: %+v", snap.Exits)
		}
	})
}

// Stopped by a person while stopping for a missed deadline: it stays down.
func TestReadinessDeadlineThenStopStaysDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		cfg := testConfig()
		cfg.StopSignal = syscall.SIGINT
		cfg.Probes.Ready = func(ctx context.Context, inc Incarnation) error {
			select {
			case <-time.After(time.Second):
				return errors.New("deadline passed")
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		s := run(t, cfg, r)
		seq, _ := s.Start(context.Background())
		awaitState(t, s, seq, Stopping)
		seq, _ = s.Stop(context.Background())
		awaitState(t, s, seq, Stopped)
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(r.spawned()); n != 1 {
			t.Errorf("spawned %d times, want 1", n)
		}
	})
}

func TestUnhealthyRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		cfg := testConfig()
		var once sync.Once
		cfg.Probes.Watch = func(ctx context.Context, inc Incarnation, report func(bool, error), unhealthy func(error)) {
			report(true, nil)
			if inc.Gen == 1 {
				once.Do(func() {
					time.Sleep(5 * time.Second)
					report(false, errors.New("HTTP 500"))
					unhealthy(errors.New("HTTP 500"))
				})
			}
			<-ctx.Done()
		}
		s := run(t, cfg, r)
		seq, _ := s.Start(context.Background())
		first := awaitState(t, s, seq, Running)
		err := s.Await(context.Background(), first.Seq, func(sn Snapshot) (bool, error) { return sn.State == Running && sn.Gen == 2, nil })
		if err != nil {
			t.Fatal(err)
		}
		snap := s.Snapshot()
		if snap.Restarts != 1 || !strings.Contains(snap.Exits[0].Decision, "unhealthy: HTTP 500") {
			t.Errorf("after the liveness restart: restarts %d, exits %+v", snap.Restarts, snap.Exits)
		}
		synctest.Wait()
		if h := s.Snapshot().Health; h != Healthy {
			t.Errorf("health of the new incarnation: %q", h)
		}
	})
}

// TestNameAndKindWhileReconfigured reads the name and kind from other
// goroutines while the actor takes new definitions: under -race this failed
// when both were read from the definition the actor replaces.
func TestNameAndKindWhileReconfigured(t *testing.T) {
	s := New(testConfig(), Options{Runner: &fakeRunner{}})
	s.Go()
	cancel := s.End
	done := s.Ended()
	defer func() { cancel(); <-done }()
	readers := make(chan struct{})
	go func() {
		defer close(readers)
		for range 200 {
			if s.Name() != "svc" {
				t.Error("name changed")
				return
			}
			if k := s.Kind(); k != KindProcess && k != KindOneshot {
				t.Errorf("kind %q", k)
				return
			}
		}
	}()
	for i := range 50 {
		cfg := testConfig()
		if i%2 == 0 {
			cfg.Kind = KindOneshot
		}
		seq, err := s.Reconfigure(context.Background(), cfg, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Await(context.Background(), seq, func(Snapshot) (bool, error) { return true, nil }); err != nil {
			t.Fatal(err)
		}
		if want := cfg.Kind; s.Kind() != want {
			t.Fatalf("kind %q after reconfiguring to %q", s.Kind(), want)
		}
	}
	<-readers
}
