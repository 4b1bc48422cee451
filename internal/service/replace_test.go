package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// startFirst runs a start-first service whose runs after the first become
// ready when ready[gen] is closed, or fail their probe on an error from fail.
func startFirst(t *testing.T, r *fakeRunner, readyAfter time.Duration, failGen uint64) (*Service, Config) {
	t.Helper()
	cfg := testConfig()
	cfg.StartFirst = true
	cfg.Probes.Ready = func(ctx context.Context, inc Incarnation) error {
		if inc.Gen == failGen {
			select {
			case <-time.After(readyAfter):
				return errors.New("deadline 3s passed")
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if inc.Gen == 1 {
			return nil
		}
		select {
		case <-time.After(readyAfter):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return run(t, cfg, r), cfg
}

func TestStartFirstRestartWaitsForTheReplacement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		s, _ := startFirst(t, r, time.Second, 0)
		seq, _ := s.Start(context.Background())
		first := awaitState(t, s, seq, Running)
		began := time.Now()
		seq, err := s.Restart(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		sn := s.Snapshot()
		procs := r.spawned()
		if sn.State != Running || sn.Pid != first.Pid || sn.NextPid != procs[1].pid || len(sigsOf(procs[0])) != 0 {
			t.Fatalf("during the overlap: %s pid %d next %d, old signalled %v", sn.State, sn.Pid, sn.NextPid, sigsOf(procs[0]))
		}
		err = s.Await(context.Background(), seq, func(sn Snapshot) (bool, error) { return sn.Pid == procs[1].pid, nil })
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if took := time.Since(began); took != time.Second {
			t.Errorf("replaced after %s, want when ready (1s)", took)
		}
		if !slices.Equal(sigsOf(procs[0]), []syscall.Signal{syscall.SIGTERM}) || len(sigsOf(procs[1])) != 0 {
			t.Errorf("signals: old %v, new %v", sigsOf(procs[0]), sigsOf(procs[1]))
		}
		if got := namesOf(r); !slices.Equal(got, []string{"svc", "svc" + ReplacementSuffix}) {
			t.Errorf("process names %q", got)
		}
		// The next one takes the first name again, once its last run is gone.
		seq, _ = s.Restart(context.Background())
		_ = s.Await(context.Background(), seq, func(sn Snapshot) (bool, error) { return sn.NextPid == 0, nil })
		if got := namesOf(r); len(got) != 3 || got[2] != "svc" {
			t.Errorf("process names %q", got)
		}
	})
}

func TestStartFirstReplacementNeverReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		s, _ := startFirst(t, r, 3*time.Second, 2)
		seq, _ := s.Start(context.Background())
		first := awaitState(t, s, seq, Running)
		seq, _ = s.Restart(context.Background())
		err := s.Await(context.Background(), seq, func(sn Snapshot) (bool, error) { return sn.NextPid == 0, nil })
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		sn := s.Snapshot()
		procs := r.spawned()
		if sn.State != Running || sn.Pid != first.Pid || !strings.Contains(sn.Error, "not ready: deadline 3s passed") {
			t.Errorf("after the replacement failed: %s pid %d (want %d) error %q", sn.State, sn.Pid, first.Pid, sn.Error)
		}
		if len(sigsOf(procs[0])) != 0 || !slices.Equal(sigsOf(procs[1]), []syscall.Signal{syscall.SIGTERM}) {
			t.Errorf("signals: old %v, replacement %v", sigsOf(procs[0]), sigsOf(procs[1]))
		}
	})
}

// A failed liveness check replaces the run start-first, as a restart does.
func TestStartFirstOnUnhealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		cfg := testConfig()
		cfg.StartFirst = true
		cfg.Probes.Watch = func(ctx context.Context, inc Incarnation, report func(bool, error), unhealthy func(error)) {
			if inc.Gen == 1 {
				time.Sleep(time.Minute)
				unhealthy(errors.New("3 failed checks"))
			}
			<-ctx.Done()
		}
		s := run(t, cfg, r)
		seq, _ := s.Start(context.Background())
		awaitState(t, s, seq, Running)
		time.Sleep(time.Minute)
		synctest.Wait()
		procs := r.spawned()
		sn := s.Snapshot()
		if len(procs) != 2 || sn.Pid != procs[1].pid || sn.State != Running {
			t.Fatalf("after an unhealthy run: %d spawned, %s pid %d", len(procs), sn.State, sn.Pid)
		}
		if !slices.Equal(sigsOf(procs[0]), []syscall.Signal{syscall.SIGTERM}) {
			t.Errorf("old run signals %v", sigsOf(procs[0]))
		}
	})
}

func sigsOf(p *fakeProc) []syscall.Signal {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.signals)
}

func namesOf(r *fakeRunner) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.names)
}
