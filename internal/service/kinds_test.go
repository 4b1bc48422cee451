package service

import (
	"context"
	"errors"
	"slices"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/respawn-sh/respawn/internal/proc"
)

// finder plays Find: it hands out the processes queued in found, or err.
type finder struct {
	mu    sync.Mutex // guards the fields below
	found []*fakeProc
	err   error
	calls []bool // afterLaunch of each call
}

func (f *finder) find(_ context.Context, afterLaunch bool) (Process, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, afterLaunch)
	if len(f.found) == 0 {
		return nil, f.err
	}
	p := f.found[0]
	f.found = f.found[1:]
	return p, nil
}

func (f *finder) afterLaunch() []bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// An external service that runs already is adopted: nothing is spawned.
func TestExternalRunningIsAdopted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		f := &finder{found: []*fakeProc{newFake(4242)}}
		cfg := testConfig()
		cfg.Kind = KindExternal
		cfg.Find = f.find
		s := run(t, cfg, r)
		seq, _ := s.Start(context.Background())
		snap := awaitState(t, s, seq, Running)
		if snap.Pid != 4242 || len(r.spawned()) != 0 {
			t.Errorf("pid %d, spawned %d: want the found 4242 and no spawn", snap.Pid, len(r.spawned()))
		}
		if got := f.afterLaunch(); !slices.Equal(got, []bool{false}) {
			t.Errorf("Find calls (afterLaunch) = %v, want [false]", got)
		}
	})
}

// An external service that does not run is launched, then looked for again;
// never found, it fails to start and its launcher's leftovers are killed.
func TestExternalLaunchedThenFoundOrNot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{behave: func(p *fakeProc) { p.finish(proc.Exit{}) }} // the launcher exits 0
		f := &finder{err: errors.New("not running"), found: nil}
		cfg := testConfig()
		cfg.Kind = KindExternal
		cfg.Find = f.find
		cfg.Spec.Args = []string{"launch-it"}
		s := run(t, cfg, r)
		seq, _ := s.Start(context.Background())
		snap := awaitState(t, s, seq, Failed)
		if len(r.spawned()) != 1 {
			t.Fatalf("launched %d times, want 1", len(r.spawned()))
		}
		if got := f.afterLaunch(); !slices.Equal(got, []bool{false, true}) {
			t.Errorf("Find calls (afterLaunch) = %v, want [false true]", got)
		}
		launcher := r.spawned()[0]
		launcher.mu.Lock()
		kills := launcher.kills
		launcher.mu.Unlock()
		if kills == 0 {
			t.Error("what the launcher left was not killed")
		}
		// Found after the launch this time: running, with the daemon's pid.
		f.mu.Lock()
		f.calls = nil
		f.mu.Unlock()
		daemon := newFake(777)
		r.mu.Lock()
		r.behave = func(p *fakeProc) {
			f.mu.Lock()
			f.found = append(f.found, daemon)
			f.mu.Unlock()
			p.finish(proc.Exit{})
		}
		r.mu.Unlock()
		seq, _ = s.Start(context.Background())
		snap = awaitState(t, s, seq, Running)
		if snap.Pid != 777 {
			t.Errorf("pid %d, want the daemon's 777", snap.Pid)
		}
		// Its end is an exit like any other: the policy restarts it.
		daemon.finish(proc.Exit{Code: 3})
		snap = awaitState(t, s, snap.Seq, Backoff)
		if snap.LastExit == nil || snap.LastExit.Code != 3 {
			t.Errorf("last exit %+v, want code 3", snap.LastExit)
		}
	})
}

// A forking service: the launcher exits 0 and the daemon it left is adopted.
func TestForkingLauncherThenDaemon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		daemon := newFake(900)
		f := &finder{found: []*fakeProc{daemon}}
		r := &fakeRunner{behave: func(p *fakeProc) { p.finish(proc.Exit{}) }}
		cfg := testConfig()
		cfg.Kind = KindForking
		cfg.Find = f.find
		s := run(t, cfg, r)
		seq, _ := s.Start(context.Background())
		snap := awaitState(t, s, seq, Running)
		if snap.Pid != 900 || snap.Gen != 1 {
			t.Errorf("pid %d gen %d, want the daemon 900 in gen 1", snap.Pid, snap.Gen)
		}
		if got := f.afterLaunch(); !slices.Equal(got, []bool{true}) {
			t.Errorf("Find calls (afterLaunch) = %v, want [true]", got)
		}
		// Stopping signals the daemon, not the launcher.
		seq, _ = s.Stop(context.Background())
		awaitState(t, s, seq, Stopped)
		daemon.mu.Lock()
		sigs := slices.Clone(daemon.signals)
		daemon.mu.Unlock()
		if !slices.Equal(sigs, []syscall.Signal{syscall.SIGTERM}) {
			t.Errorf("daemon got %v, want [SIGTERM]", sigs)
		}
	})
}

// A stop command is run instead of the stop signal; the timeout still kills.
func TestStopCommandRunsInsteadOfSignal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		cfg := testConfig()
		cfg.Spec.Name, cfg.Spec.Args = "svc", []string{"serve"}
		cfg.StopCommand = []string{"svcctl", "stop"}
		s := run(t, cfg, r)
		seq, _ := s.Start(context.Background())
		awaitState(t, s, seq, Running)
		main := r.spawned()[0]
		seq, _ = s.Stop(context.Background())
		awaitState(t, s, seq, Stopping)
		if n := len(r.spawned()); n != 2 {
			t.Fatalf("%d processes spawned, want the service and its stop command", n)
		}
		main.mu.Lock()
		sigs := len(main.signals)
		main.mu.Unlock()
		if sigs != 0 {
			t.Errorf("the service got %d signals; the stop command replaces the signal", sigs)
		}
		// It does not exit: the stop timeout kills it.
		time.Sleep(cfg.StopTimeout)
		awaitState(t, s, seq, Stopped)
		main.mu.Lock()
		kills := main.kills
		main.mu.Unlock()
		if kills == 0 {
			t.Error("not killed after the stop timeout")
		}
	})
}

// Signal reaches the live process and fails without one.
func TestSignalNeedsALiveProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		s := run(t, testConfig(), r)
		if _, err := s.Signal(context.Background(), syscall.SIGHUP); !errors.Is(err, ErrNoProcess) {
			t.Errorf("signal with no process: %v, want ErrNoProcess", err)
		}
		seq, _ := s.Start(context.Background())
		awaitState(t, s, seq, Running)
		if _, err := s.Signal(context.Background(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		p := r.spawned()[0]
		p.mu.Lock()
		sigs := slices.Clone(p.signals)
		p.mu.Unlock()
		if !slices.Equal(sigs, []syscall.Signal{syscall.SIGHUP}) {
			t.Errorf("signals %v, want [SIGHUP]", sigs)
		}
	})
}

// usageProc is a process that can measure itself.
type usageProc struct{ *fakeProc }

func (usageProc) Usage() (time.Duration, uint64, error) { return 3 * time.Second, 64 << 20, nil }

type usageRunner struct{ fakeRunner }

func (r *usageRunner) Spawn(spec proc.Spec) (Process, error) {
	p, err := r.fakeRunner.Spawn(spec)
	if err != nil {
		return nil, err
	}
	return usageProc{p.(*fakeProc)}, nil
}

func (r *usageRunner) SpawnOutput(spec proc.Spec, _ Output) (Process, error) { return r.Spawn(spec) }

func TestUsageOfTheLiveRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &usageRunner{}
		s := New(testConfig(), Options{Runner: r})
		startActor(t, s)
		if _, _, ok := s.Usage(); ok {
			t.Error("usage reported with nothing running")
		}
		seq, _ := s.Start(context.Background())
		awaitState(t, s, seq, Running)
		cpu, mem, ok := s.Usage()
		if !ok || cpu != 3*time.Second || mem != 64<<20 {
			t.Errorf("usage %v %d %v, want 3s 64MiB true", cpu, mem, ok)
		}
		// A process that cannot measure itself reports nothing.
		plain := run(t, testConfig(), &fakeRunner{})
		seq, _ = plain.Start(context.Background())
		awaitState(t, plain, seq, Running)
		if _, _, ok := plain.Usage(); ok {
			t.Error("usage reported by a process that cannot measure")
		}
	})
}

func TestUptime(t *testing.T) {
	now := time.Now()
	up := Snapshot{State: Running, StartedAt: now.Add(-time.Minute)}
	if got := up.Uptime(now); got != time.Minute {
		t.Errorf("running uptime %v, want 1m", got)
	}
	for _, sn := range []Snapshot{
		{State: Failed, StartedAt: now.Add(-time.Minute)},
		{State: Running},
	} {
		if got := sn.Uptime(now); got != 0 {
			t.Errorf("%s (started %v): uptime %v, want 0", sn.State, sn.StartedAt, got)
		}
	}
}

// A stop while a restart is pending leaves it down; a start while a stop is
// under way brings it back: what follows a stop is decided by wanted, which
// only commands change.
func TestWantedDecidesWhatFollowsAStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		j := &recJournal{}
		s := New(testConfig(), Options{Runner: r, Journal: j})
		startActor(t, s)
		seq, _ := s.Start(context.Background())
		awaitState(t, s, seq, Running)
		first := r.spawned()[0]
		first.mu.Lock()
		first.dieOn = nil // it ignores SIGTERM: the stop takes until the timeout
		first.mu.Unlock()
		seq, _ = s.Restart(context.Background())
		snap := awaitState(t, s, seq, Stopping)
		if !snap.Wanted {
			t.Fatal("restarting, yet not wanted up")
		}
		seq, _ = s.Stop(context.Background())
		snap = awaitState(t, s, seq, Stopping)
		if snap.Wanted {
			t.Fatal("stopped during a restart, yet still wanted up")
		}
		first.finish(proc.Exit{Signal: int(syscall.SIGTERM)})
		snap = awaitState(t, s, snap.Seq, Stopped)
		if len(r.spawned()) != 1 {
			t.Errorf("%d spawns: the stop during a restart must win", len(r.spawned()))
		}
		// The commands that only changed what follows left no transition.
		for _, e := range j.all() {
			if e.From != "" && e.From == e.To && (e.Reason == "start" || e.Reason == "stop" || e.Reason == "restart") {
				t.Errorf("journal has a transition for a command that changed only wanted: %+v", e)
			}
		}
	})
}
