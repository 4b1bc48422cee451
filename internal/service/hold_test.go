package service

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/proc"
)

// holdJournal checks each transition's event twice: when it is written, the
// service must still show the state before it (whoever sees the new state
// finds the event in the journal); when it is released to the followers,
// the service must show the state it names (a follower that asks for the
// status on the event finds that state).
type holdJournal struct {
	mu       sync.Mutex
	s        *Service
	bad      []string
	released int
}

func (j *holdJournal) Record(e api.Event) { j.Hold(e)() }

func (j *holdJournal) Hold(e api.Event) func() {
	if e.Type != api.EventState {
		return func() {}
	}
	if got := j.s.Snapshot().State.String(); got != e.From {
		j.note("%s→%s written while the status showed %s", e.From, e.To, got)
	}
	return func() {
		if got := j.s.Snapshot().State.String(); got != e.To {
			j.note("%s→%s released while the status showed %s", e.From, e.To, got)
		}
		j.mu.Lock()
		j.released++
		j.mu.Unlock()
	}
}

func (j *holdJournal) note(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.bad = append(j.bad, fmt.Sprintf(format, args...))
}

func TestTransitionEventsAroundThePublishedState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{}
		j := &holdJournal{}
		s := New(testConfig(), Options{Runner: r, Journal: j})
		j.s = s
		startActor(t, s)
		seq, _ := s.Start(context.Background())
		awaitState(t, s, seq, Running)
		// A crash, then the respawn after the backoff.
		r.spawned()[0].finish(proc.Exit{Code: 1})
		synctest.Wait()
		seq = s.Snapshot().Seq
		awaitState(t, s, seq, Running)
		seq, _ = s.Stop(context.Background())
		awaitState(t, s, seq, Stopped)
		synctest.Wait()
		j.mu.Lock()
		defer j.mu.Unlock()
		for _, b := range j.bad {
			t.Error(b)
		}
		// stopped→starting→running, running→backoff→starting→running,
		// running→stopping→stopped.
		if j.released < 7 {
			t.Errorf("%d transitions released, want at least 7", j.released)
		}
	})
}
