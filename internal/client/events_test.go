package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// serveEventsFake serves h on a fresh Unix socket and returns a client for it.
func serveEventsFake(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return New(sock)
}

func TestEventsDecodesLineByLine(t *testing.T) {
	var gotQuery string
	c := serveEventsFake(t, func(w http.ResponseWriter, r *http.Request) {
		gotQuery = r.URL.RawQuery
		w.Header().Set("Content-Type", "application/x-ndjson")
		fmt.Fprintln(w, `{"time":"2024-05-01T12:00:00Z","type":"supervisor","message":"started"}`)
		fmt.Fprintln(w)
		fmt.Fprintln(w, `{"time":"2024-05-01T12:00:01Z","type":"exit","service":"web","exit_code":1}`)
	})
	var got []api.Event
	err := c.Events(context.Background(), "10m", 5, false, func(e api.Event) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if gotQuery != "n=5&since=10m" {
		t.Errorf("query %q", gotQuery)
	}
	if len(got) != 2 || got[0].Message != "started" || got[1].ExitCode == nil || *got[1].ExitCode != 1 {
		t.Errorf("got %+v", got)
	}
}

func TestEventsErrors(t *testing.T) {
	c := serveEventsFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("since") {
		case "bad":
			w.WriteHeader(400)
			fmt.Fprintln(w, `{"error":{"code":"bad_request","message":"since \"bad\": want a duration"}}`)
		case "cut":
			fmt.Fprintln(w, `{"time":"2024-05-01T12:00:00Z","type":"state"}`)
			fmt.Fprintln(w, `{"error":{"code":"internal","message":"journal: follower too slow, cut off"}}`)
		case "garbage":
			fmt.Fprintln(w, `{"time":`)
		default:
			fmt.Fprintln(w, `{"time":"2024-05-01T12:00:00Z","type":"state"}`)
			fmt.Fprintln(w, `{"time":"2024-05-01T12:00:01Z","type":"state"}`)
		}
	})
	noop := func(api.Event) error { return nil }
	var ae *APIError
	if err := c.Events(context.Background(), "bad", 0, false, noop); !errors.As(err, &ae) || ae.Status != 400 || ae.Code != api.CodeBadRequest {
		t.Errorf("400: %v", err)
	}
	seen := 0
	err := c.Events(context.Background(), "cut", 0, true, func(api.Event) error { seen++; return nil })
	if !errors.As(err, &ae) || ae.Code != api.CodeInternal || seen != 1 {
		t.Errorf("cut short: %v after %d events", err, seen)
	}
	if err := c.Events(context.Background(), "garbage", 0, false, noop); err == nil {
		t.Error("a line that is not JSON was accepted")
	}
	stop := errors.New("stop")
	calls := 0
	if err := c.Events(context.Background(), "", 0, false, func(api.Event) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("emit error: %v after %d calls", err, calls)
	}
	missing := New(filepath.Join(t.TempDir(), "none.sock"))
	if err := missing.Events(context.Background(), "", 0, false, noop); !errors.Is(err, ErrNotRunning) {
		t.Errorf("no socket: %v", err)
	}
}

func TestEventsFollowEndsWithContext(t *testing.T) {
	c := serveEventsFake(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"time":"2024-05-01T12:00:00Z","type":"state"}`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- c.Events(ctx, "", 0, true, func(api.Event) error {
			cancel() // the first event arrived while the stream stays open
			return nil
		})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Events did not end with its context")
	}
}
