package daemon

import (
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/respawn-sh/respawn/internal/service"
)

// countingLink records every save it is given.
type countingLink struct {
	mu     sync.Mutex // guards saves
	saves  []service.Saved
	closed chan struct{}
}

func (l *countingLink) Save(name string, blob []byte) error {
	var s service.Saved
	if err := json.Unmarshal(blob, &s); err != nil {
		return err
	}
	l.mu.Lock()
	l.saves = append(l.saves, s)
	l.mu.Unlock()
	return nil
}

func (l *countingLink) Closed() <-chan struct{} { return l.closed }

func (l *countingLink) sent() []service.Saved {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]service.Saved(nil), l.saves...)
}

// Changes within saveCoalesce of the first go as one save of the last; a
// change after that is a save of its own.
func TestSaveQueueCoalescesARestartsChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		link := &countingLink{closed: make(chan struct{})}
		q := &saveQueue{pending: map[string]service.Saved{}, wake: make(chan struct{}, 1)}
		done := make(chan struct{})
		go func() {
			defer close(done)
			q.run(link, slog.New(slog.NewTextHandler(io.Discard, nil)))
		}()

		q.put("web", service.Saved{State: "backoff", Restarts: 1})
		synctest.Wait()
		time.Sleep(saveCoalesce / 5)
		q.put("web", service.Saved{State: "running", Restarts: 1})
		synctest.Wait()
		if got := link.sent(); len(got) != 0 {
			t.Fatalf("sent %d saves before %v passed", len(got), saveCoalesce)
		}
		time.Sleep(saveCoalesce)
		synctest.Wait()
		got := link.sent()
		if len(got) != 1 || got[0].State != "running" {
			t.Fatalf("after %v: saves %+v, want one, of the running state", saveCoalesce, got)
		}

		time.Sleep(time.Second)
		q.put("web", service.Saved{State: "backoff", Restarts: 2})
		time.Sleep(2 * saveCoalesce)
		synctest.Wait()
		if got := link.sent(); len(got) != 2 || got[1].Restarts != 2 {
			t.Fatalf("a later change: saves %+v, want a second one", got)
		}
		close(link.closed)
		<-done
	})
}
