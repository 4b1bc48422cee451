package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/service"
)

// A save that fails because the link is closed (after the bye, the core
// closes it while the last states are still queued) ends the queue quietly;
// any other failure is logged and the queue goes on.
func TestSaveQueueAfterTheLinkCloses(t *testing.T) {
	for _, c := range []struct {
		name  string
		err   error
		quiet bool
	}{
		{"closed descriptor", fmt.Errorf("send save: %w", syscall.EBADF), true},
		{"broken pipe", fmt.Errorf("send save: %w", syscall.EPIPE), true},
		{"other", errors.New("send save: no buffer space"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			fk := newFakeKeeper(t)
			fk.saveErr = c.err
			var logBuf logBuffer
			q := &saveQueue{pending: map[string]service.Saved{}, wake: make(chan struct{}, 1)}
			done := make(chan struct{})
			go func() {
				defer close(done)
				q.run(fk, slog.New(slog.NewTextHandler(&logBuf, nil)))
			}()
			q.put("web", service.Saved{})
			if c.quiet {
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					t.Fatal("the queue went on after the link was closed")
				}
				if logBuf.String() != "" {
					t.Errorf("logged %q", logBuf.String())
				}
				return
			}
			deadline := time.Now().Add(5 * time.Second)
			for !bytes.Contains([]byte(logBuf.String()), []byte("no buffer space")) {
				if time.Now().After(deadline) {
					t.Fatal("the failed save was not logged")
				}
				time.Sleep(10 * time.Millisecond)
			}
			fk.Close()
			<-done
		})
	}
}
