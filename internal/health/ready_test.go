package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"testing/synctest"
	"time"

	"github.com/respawn-sh/respawn/internal/logs"
)

var errDown = errors.New("down")

// failTimes returns a Check failing n times, then passing, and a count of its tries.
func failTimes(n int) (Check, *int) {
	tries := 0
	return func(context.Context) error {
		tries++
		if tries <= n {
			return fmt.Errorf("try %d: %w", tries, errDown)
		}
		return nil
	}, &tries
}

func TestWaitReadyPassesAfterFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		check, tries := failTimes(3)
		start := time.Now()
		if err := WaitReady(t.Context(), check, time.Second, time.Second, time.Minute); err != nil {
			t.Fatalf("WaitReady: %v", err)
		}
		if *tries != 4 || time.Since(start) != 3*time.Second {
			t.Errorf("passed after %d tries and %v, want 4 tries, 3s", *tries, time.Since(start))
		}
	})
}

func TestWaitReadyDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		check, tries := failTimes(1 << 30)
		start := time.Now()
		err := WaitReady(t.Context(), check, time.Second, time.Second, 5500*time.Millisecond)
		if !errors.Is(err, ErrDeadline) || !errors.Is(err, errDown) {
			t.Fatalf("WaitReady: %v, want ErrDeadline with the check's error", err)
		}
		if *tries != 6 || time.Since(start) != 5500*time.Millisecond {
			t.Errorf("gave up after %d tries and %v, want 6 tries, 5.5s", *tries, time.Since(start))
		}
	})
}

func TestWaitReadyTimeoutBoundsEachTry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tries := 0
		hang := func(ctx context.Context) error {
			if tries++; tries < 3 {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}
		start := time.Now()
		if err := WaitReady(t.Context(), hang, time.Second, 200*time.Millisecond, time.Minute); err != nil {
			t.Fatalf("WaitReady: %v", err)
		}
		if want := 2*200*time.Millisecond + 2*time.Second; time.Since(start) != want {
			t.Errorf("took %v, want %v", time.Since(start), want)
		}
	})
}

func TestWaitReadyContextAndBadInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
		defer cancel()
		check, _ := failTimes(1 << 30)
		if err := WaitReady(ctx, check, time.Second, time.Second, 0); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrDeadline) {
			t.Errorf("ctx ended: %v, want ctx.Err()", err)
		}
	})
	if err := WaitReady(t.Context(), nil, time.Second, 0, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil check: %v", err)
	}
	check, _ := failTimes(0)
	if err := WaitReady(t.Context(), check, 0, 0, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero interval: %v", err)
	}
}

// tailPipe returns a Tail fed by a real capture from the read end of a pipe, and the
// write end.
func tailPipe(t *testing.T) (*logs.Tail, *os.File, <-chan struct{}) {
	t.Helper()
	c, err := logs.NewCapture(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sink, err := c.Open(filepath.Join(t.TempDir(), "out.log"), logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	tail := logs.NewTail(10)
	done, err := sink.AttachTail(logs.Stdout, r, tail)
	if err != nil {
		t.Fatal(err)
	}
	return tail, w, done
}

func TestWaitLog(t *testing.T) {
	tail, w, _ := tailPipe(t)
	re := regexp.MustCompile(`listening on :\d+`)
	result := make(chan error, 1)
	go func() { result <- WaitLog(testCtx(t), tail, re, time.Minute) }()
	fmt.Fprintln(w, "starting")
	fmt.Fprintln(w, "listening on :8080")
	select {
	case err := <-result:
		if err != nil {
			t.Fatalf("WaitLog: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitLog did not see the line")
	}
	// A line already on the tail counts too.
	if err := WaitLog(testCtx(t), tail, re, time.Minute); err != nil {
		t.Errorf("WaitLog on a present line: %v", err)
	}
}

func TestWaitLogDeadline(t *testing.T) {
	tail, w, done := tailPipe(t)
	fmt.Fprintln(w, "starting")
	w.Close()
	select { // once done is closed, every line is on the tail
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("capture did not finish")
	}
	err := WaitLog(testCtx(t), tail, regexp.MustCompile(`ready`), 20*time.Millisecond)
	if !errors.Is(err, ErrDeadline) {
		t.Errorf("WaitLog: %v, want ErrDeadline", err)
	}
	if err := WaitLog(testCtx(t), nil, regexp.MustCompile(`x`), time.Second); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil tail: %v", err)
	}
	var none *logs.Tail
	if err := WaitLog(testCtx(t), none, regexp.MustCompile(`x`), time.Second); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil *logs.Tail: %v", err)
	}
}

// chanMatcher is a run's output kept elsewhere: it says when a line matched.
type chanMatcher chan struct{}

func (c chanMatcher) Match(*regexp.Regexp) <-chan struct{} { return c }

func TestWaitLogAnyMatcher(t *testing.T) {
	m := make(chanMatcher)
	result := make(chan error, 1)
	go func() { result <- WaitLog(testCtx(t), m, regexp.MustCompile(`ready`), time.Minute) }()
	close(m)
	select {
	case err := <-result:
		if err != nil {
			t.Errorf("WaitLog: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitLog did not see the match")
	}
}
