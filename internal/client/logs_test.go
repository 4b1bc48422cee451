package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

func TestLogsQueryAndDecoding(t *testing.T) {
	queries := make(chan string, 1)
	c := serveEventsFake(t, func(w http.ResponseWriter, r *http.Request) {
		queries <- r.URL.Path + "?" + r.URL.RawQuery
		w.Header().Set("Content-Type", "application/x-ndjson")
		fmt.Fprintln(w, `{"time":"2024-05-01T12:00:00Z","service":"web","stream":"stdout","line":"hello"}`)
		fmt.Fprintln(w)
		fmt.Fprintln(w, `{"time":"2024-05-01T12:00:01Z","service":"db","stream":"stderr","line":"oops"}`)
	})
	var got []api.LogLine
	err := c.Logs(context.Background(), []string{"web", "db"}, 20, "10m", false, func(l api.LogLine) error {
		got = append(got, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if q := <-queries; q != "/v1/logs?n=20&name=web&name=db&since=10m" {
		t.Errorf("query %q", q)
	}
	if len(got) != 2 || got[0].Line != "hello" || got[1].Service != "db" || got[1].Stream != "stderr" ||
		!got[1].Time.Equal(time.Date(2024, 5, 1, 12, 0, 1, 0, time.UTC)) {
		t.Errorf("decoded %+v", got)
	}
	// No names, n <= 0, no since: a bare request (all services, every line).
	if err := c.Logs(context.Background(), nil, 0, "", true, func(api.LogLine) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if q := <-queries; q != "/v1/logs?follow=1" {
		t.Errorf("query %q", q)
	}
}

func TestLogsErrors(t *testing.T) {
	c := serveEventsFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("name") {
		case "nope":
			w.WriteHeader(404)
			fmt.Fprintln(w, `{"error":{"code":"unknown_service","message":"unknown service: nope"}}`)
		case "cut":
			fmt.Fprintln(w, `{"time":"2024-05-01T12:00:00Z","service":"cut","stream":"stdout","line":"a"}`)
			fmt.Fprintln(w, `{"error":{"code":"internal","message":"disk on fire"}}`)
		case "junk":
			fmt.Fprintln(w, `{not json`)
		default:
			fmt.Fprintln(w, `{"time":"2024-05-01T12:00:00Z","service":"web","stream":"stdout","line":"a"}`)
			fmt.Fprintln(w, `{"time":"2024-05-01T12:00:00Z","service":"web","stream":"stdout","line":"b"}`)
		}
	})
	none := func(api.LogLine) error { return nil }
	var ae *APIError
	if err := c.Logs(context.Background(), []string{"nope"}, 0, "", false, none); !errors.As(err, &ae) || ae.Status != 404 || ae.Code != api.CodeUnknownService {
		t.Errorf("unknown service: %v", err)
	}
	var lines int
	err := c.Logs(context.Background(), []string{"cut"}, 0, "", false, func(api.LogLine) error { lines++; return nil })
	if !errors.As(err, &ae) || ae.Code != api.CodeInternal || lines != 1 {
		t.Errorf("cut short: %v after %d lines", err, lines)
	}
	if err := c.Logs(context.Background(), []string{"junk"}, 0, "", false, none); err == nil {
		t.Error("junk decoded")
	}
	errStop := errors.New("stop")
	calls := 0
	err = c.Logs(context.Background(), []string{"web"}, 0, "", false, func(api.LogLine) error { calls++; return errStop })
	if !errors.Is(err, errStop) || calls != 1 {
		t.Errorf("emit error: %v after %d calls", err, calls)
	}
	gone := New(filepath.Join(t.TempDir(), "none.sock"))
	if err := gone.Logs(context.Background(), nil, 0, "", false, none); !errors.Is(err, ErrNotRunning) {
		t.Errorf("no socket: %v", err)
	}
}

func TestLogsFollowEndsWithContext(t *testing.T) {
	c := serveEventsFake(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"time":"2024-05-01T12:00:00Z","service":"web","stream":"stdout","line":"a"}`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	err := c.Logs(ctx, nil, 0, "", true, func(api.LogLine) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Logs after cancel: %v", err)
	}
}
