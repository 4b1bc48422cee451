package service

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/respawn-sh/respawn/internal/proc"
)

// parked reports whether no goroutine runs the actor's loop.
func parked(s *Service) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.active
}

func TestActorParksAtRestAndWakesForWhatComes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		s := run(t, testConfig(), r)
		synctest.Wait()
		if !parked(s) {
			t.Fatal("a stopped service's actor still runs")
		}
		seq, err := s.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		first := awaitState(t, s, seq, Running)
		synctest.Wait()
		if !parked(s) {
			t.Fatal("a running service's actor still runs")
		}

		// The process's end wakes it: the crash is seen, backed off (the
		// actor holds its timer, so it stays), and respawned.
		r.spawned()[0].finish(proc.Exit{Code: 1})
		synctest.Wait()
		if parked(s) {
			t.Fatal("the actor parked while backing off")
		}
		if st := s.Snapshot().State; st != Backoff {
			t.Fatalf("after the crash: %s, want backoff", st)
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		snap := s.Snapshot()
		if snap.State != Running || snap.Gen == first.Gen || snap.Restarts != 1 {
			t.Fatalf("after the backoff: %s gen %d restarts %d", snap.State, snap.Gen, snap.Restarts)
		}
		if !parked(s) {
			t.Fatal("the respawned service's actor still runs")
		}

		// A signal reaches the parked actor and is answered.
		if _, err := s.Signal(context.Background(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if got := r.spawned()[1].signals; len(got) != 1 || got[0] != syscall.SIGHUP {
			t.Fatalf("signals %v, want [SIGHUP]", got)
		}
		seq, err = s.Stop(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		awaitState(t, s, seq, Stopped)
		synctest.Wait()
		if !parked(s) {
			t.Fatal("the stopped service's actor still runs")
		}
	})
}

// TestSenderThatGivesUpLetsTheActorPark: a sender that gives up while the
// actor waits for it kicks it, so that it parks without waiting for the
// next event.
func TestSenderThatGivesUpLetsTheActorPark(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := run(t, testConfig(), &fakeRunner{})
		seq, _ := s.Start(context.Background())
		awaitState(t, s, seq, Running)
		gone, cancel := context.WithCancel(context.Background())
		cancel()
		for i := range 200 {
			_, _ = s.Stop(gone) // taken or not: the loop races the sender
			synctest.Wait()
			if !parked(s) {
				t.Fatalf("try %d: the actor still runs after its sender gave up", i)
			}
		}
	})
}

func TestParkedActorEndsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(testConfig(), Options{Runner: &fakeRunner{}})
		s.Go()
		cancel := s.End
		seq, _ := s.Start(context.Background())
		awaitState(t, s, seq, Running)
		synctest.Wait()
		if !parked(s) {
			t.Fatal("the actor did not park")
		}
		cancel()
		<-s.Ended()
		if _, err := s.Stop(context.Background()); !errors.Is(err, ErrNotRunning) {
			t.Fatalf("stop after the end: %v", err)
		}
		// Nothing starts a loop any more: an exit after the end is no one's.
		synctest.Wait()
		if parked(s) {
			t.Fatal("an ended actor can be started again")
		}
	})
}

func TestActorStaysForAProcessThatCannotCallBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{plain: true}
		s := run(t, testConfig(), r)
		seq, _ := s.Start(context.Background())
		first := awaitState(t, s, seq, Running)
		synctest.Wait()
		if parked(s) {
			t.Fatal("the actor parked with no way to hear of its process's end")
		}
		r.spawned()[0].finish(proc.Exit{Code: 1})
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if snap := s.Snapshot(); snap.State != Running || snap.Gen == first.Gen {
			t.Fatalf("after the crash: %s gen %d, want a new run", snap.State, snap.Gen)
		}
	})
}

// TestSendersThatGiveUpLeaveTheActorParked races senders whose contexts end
// at once against the actor's parking and the processes' ends, on real
// goroutines (run with -race): each request is applied or not, none is lost
// or left blocking, and the actor parks once all is over.
func TestSendersThatGiveUpLeaveTheActorParked(t *testing.T) {
	cfg := testConfig()
	cfg.Policy.Initial, cfg.Policy.Burst = 0, 0
	r := &fakeRunner{}
	s := New(cfg, Options{Runner: r})
	s.Go()
	cancel := s.End
	defer func() { cancel(); <-s.Ended() }()
	if _, err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 300 {
				c, stop := context.WithCancel(context.Background())
				if (i+g)%2 == 0 {
					stop() // gives up before or while the actor takes it
				}
				_, err := s.Start(c)
				stop()
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("start: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 300 {
			procs := r.spawned()
			procs[len(procs)-1].finish(proc.Exit{Code: 1})
		}
	})
	wg.Wait()
	seq, err := s.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctxA, stopA := context.WithTimeout(context.Background(), 30*time.Second)
	defer stopA()
	if err := s.Await(ctxA, seq, func(sn Snapshot) (bool, error) { return sn.State == Running, nil }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !parked(s) {
		if time.Now().After(deadline) {
			t.Fatal("the actor still runs 30 s after the last request")
		}
		time.Sleep(time.Millisecond)
	}
	// Parked, it still hears its process end.
	procs := r.spawned()
	last := procs[len(procs)-1]
	last.finish(proc.Exit{Code: 1})
	if err := s.Await(ctxA, 0, func(sn Snapshot) (bool, error) {
		return sn.State == Running && sn.Pid != last.pid, nil
	}); err != nil {
		t.Fatal(err)
	}
}
