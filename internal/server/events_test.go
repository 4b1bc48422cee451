package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// fakeEvents emits a fixed backlog, then (when following) whatever arrives on live.
type fakeEvents struct {
	backlog []api.Event
	live    chan api.Event
	fail    error // returned after the backlog when set

	mu    sync.Mutex // guards calls
	calls []followCall
	ended chan error // receives what each Follow returned
}

type followCall struct {
	since  time.Time
	n      int
	follow bool
}

func newFakeEvents(backlog ...api.Event) *fakeEvents {
	return &fakeEvents{backlog: backlog, live: make(chan api.Event), ended: make(chan error, 10)}
}

func (f *fakeEvents) Follow(ctx context.Context, since time.Time, n int, follow bool, emit func(api.Event) error) (err error) {
	defer func() { f.ended <- err }()
	f.mu.Lock()
	f.calls = append(f.calls, followCall{since, n, follow})
	f.mu.Unlock()
	for _, e := range f.backlog {
		if err := emit(e); err != nil {
			return err
		}
	}
	if f.fail != nil {
		return f.fail
	}
	if !follow {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e := <-f.live:
			if err := emit(e); err != nil {
				return err
			}
		}
	}
}

func (f *fakeEvents) lastCall(t *testing.T) followCall {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("Follow was never called")
	}
	return f.calls[len(f.calls)-1]
}

// serveEvents serves the API with ev as its journal (nil for none) on a real Unix socket.
func serveEvents(t *testing.T, ev Events) *http.Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	opts := Options{Backend: &fakeBackend{}, Logger: slog.New(slog.DiscardHandler), Shutdown: func() {}, Done: make(chan struct{})}
	if ev != nil {
		opts.Events = ev
	}
	srv := New(opts)
	l, err := srv.ListenSocket(sock, Access{})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
}

func exitCodeOf(n int) *int { return &n }

func TestEventsStreamsNDJSONWithParameters(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	fe := newFakeEvents(
		api.Event{Time: t0, Type: api.EventSupervisor, Message: "started"},
		api.Event{Time: t0.Add(time.Second), Type: api.EventExit, Service: "web", ExitCode: exitCodeOf(1)},
	)
	c := serveEvents(t, fe)
	before := time.Now()
	resp, err := c.Get("http://x" + api.PathEvents + "?since=10m&n=5")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var got []api.Event
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var e api.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, e)
	}
	if len(got) != 2 || got[0].Message != "started" || got[1].ExitCode == nil || *got[1].ExitCode != 1 || !got[1].Time.Equal(t0.Add(time.Second)) {
		t.Errorf("got %+v", got)
	}
	call := fe.lastCall(t)
	want := before.Add(-10 * time.Minute)
	if call.since.Before(want.Add(-time.Minute)) || call.since.After(time.Now().Add(-10*time.Minute)) || call.n != 5 || call.follow {
		t.Errorf("Follow got %+v, want since ≈ %v, n 5, no follow", call, want)
	}

	resp2, err := c.Get("http://x" + api.PathEvents + "?since=" + url.QueryEscape("2024-05-01T12:00:01+02:00") + "&follow=0")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp2.Body)
	resp2.Body.Close()
	call = fe.lastCall(t)
	if !call.since.Equal(time.Date(2024, 5, 1, 10, 0, 1, 0, time.UTC)) || call.n != 0 || call.follow {
		t.Errorf("RFC 3339 since: Follow got %+v", call)
	}
}

func TestEventsBadParametersAre400(t *testing.T) {
	fe := newFakeEvents()
	c := serveEvents(t, fe)
	for _, q := range []string{"since=yesterday", "since=-5m", "since=2024-13-01T00:00:00Z", "n=-1", "n=ten", "n=99999999999999999999", "follow=maybe"} {
		resp, err := c.Get("http://x" + api.PathEvents + "?" + q)
		if err != nil {
			t.Fatal(err)
		}
		var e api.Error
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 400 || e.Error.Code != api.CodeBadRequest || e.Error.Message == "" {
			t.Errorf("%s: %d %+v %v", q, resp.StatusCode, e, err)
		}
	}
	fe.mu.Lock()
	defer fe.mu.Unlock()
	if len(fe.calls) != 0 {
		t.Errorf("bad requests reached the journal %d times", len(fe.calls))
	}
}

func TestEventsWithoutJournalIs503(t *testing.T) {
	c := serveEvents(t, nil)
	resp, err := c.Get("http://x" + api.PathEvents)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e api.Error
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != 503 || e.Error.Message == "" {
		t.Errorf("got %d %+v %v", resp.StatusCode, e, err)
	}
	resp2, err := c.Post("http://x"+api.PathEvents, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 405 {
		t.Errorf("POST events: %d, want 405", resp2.StatusCode)
	}
}

func TestEventsFollowFlushesEachEventAndEndsWithTheClient(t *testing.T) {
	fe := newFakeEvents(api.Event{Time: time.Now(), Type: api.EventSupervisor, Message: "backlog"})
	c := serveEvents(t, fe)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://x"+api.PathEvents+"?follow=1", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	readEvent := func(want string) {
		t.Helper()
		select {
		case l, ok := <-lines:
			var e api.Event
			if !ok || json.Unmarshal([]byte(l), &e) != nil || e.Message != want {
				t.Fatalf("got line %q (open %v), want event %q", l, ok, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %q never arrived: not flushed?", want)
		}
	}
	// Each event arrives while the stream is still open: it was flushed.
	readEvent("backlog")
	for _, m := range []string{"live 1", "live 2"} {
		select {
		case fe.live <- api.Event{Time: time.Now(), Type: api.EventState, Message: m}:
		case <-time.After(10 * time.Second):
			t.Fatal("handler is not following")
		}
		readEvent(m)
	}
	if !fe.lastCall(t).follow {
		t.Error("follow=1 did not reach Follow")
	}
	cancel()
	select {
	case err := <-fe.ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Follow ended with %v, want the request's context canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Follow still running after the client went away")
	}
}

func TestEventsErrorMidStreamIsTheLastLine(t *testing.T) {
	fe := newFakeEvents(api.Event{Time: time.Now(), Type: api.EventSupervisor})
	fe.fail = errors.New("follower too slow")
	c := serveEvents(t, fe)
	resp, err := c.Get("http://x" + api.PathEvents + "?follow=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	sc := bufio.NewScanner(bytes.NewReader(data))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 2 {
		t.Fatalf("got %q", data)
	}
	var e api.Error
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil || e.Error.Code != api.CodeInternal || e.Error.Message != "follower too slow" {
		t.Errorf("last line %q: %+v %v", lines[1], e, err)
	}
}
