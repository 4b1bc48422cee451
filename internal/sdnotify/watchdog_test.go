package sdnotify

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestWatchdogPingsWhileCheckAnswers(t *testing.T) {
	conn, path := listen(t)
	t.Setenv("NOTIFY_SOCKET", path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Watchdog(ctx, 10*time.Millisecond, func(context.Context) (string, error) { return "2 running", nil }, discard())
	}()
	for range 3 {
		if got := receive(t, conn); got != "WATCHDOG=1\nSTATUS=2 running" {
			t.Fatalf("ping %q", got)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watchdog did not return after cancel")
	}
}

func TestWatchdogWithholdsPingWhenCheckHangsOrFails(t *testing.T) {
	conn, path := listen(t)
	t.Setenv("NOTIFY_SOCKET", path)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls, mode atomic.Int32 // mode 0: hang until the check's deadline, 1: fail, 2: answer
	started := make(chan struct{}, 100)
	go Watchdog(ctx, 10*time.Millisecond, func(c context.Context) (string, error) {
		calls.Add(1)
		started <- struct{}{}
		switch mode.Load() {
		case 0:
			<-c.Done()
			return "", c.Err()
		case 1:
			return "", errors.New("no answer")
		}
		return "ok", nil
	}, discard())
	// Let several checks hang, then fail; no ping may arrive meanwhile.
	for range 3 {
		<-started
	}
	mode.Store(1)
	for range 3 {
		<-started
	}
	if err := conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	n, err := conn.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("a ping while the check hung or failed: %q, %v", buf[:n], err)
	}
	mode.Store(2)
	// Once it answers again, pings resume.
	for {
		got := receive(t, conn)
		if strings.HasPrefix(got, "WATCHDOG=1") {
			if got != "WATCHDOG=1\nSTATUS=ok" {
				t.Fatalf("ping %q", got)
			}
			break
		}
	}
}
