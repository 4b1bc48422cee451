package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/supervisor"
)

// logsBackend serves log files from a directory: one per configured service.
type logsBackend struct {
	fakeBackend
	dir      string
	services []string
	logCalls atomic.Int32
}

func (b *logsBackend) LogFiles(names []string) ([]LogFile, error) {
	b.logCalls.Add(1)
	if len(names) == 0 {
		names = b.services
	}
	var out []LogFile
	for _, s := range b.services {
		if slices.Contains(names, s) {
			out = append(out, LogFile{Service: s, Path: b.path(s)})
		}
	}
	for _, n := range names {
		if !slices.Contains(b.services, n) {
			return nil, &supervisor.UnknownServiceError{Names: []string{n}}
		}
	}
	// Requested order is not config order: answer in config order, as the supervisor does.
	return out, nil
}

func (b *logsBackend) path(service string) string { return filepath.Join(b.dir, service+".log") }

var lt0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// write appends lines to a service's log, at the given seconds after lt0.
func (b *logsBackend) write(t *testing.T, service string, lines ...logs.Line) {
	t.Helper()
	f, err := os.OpenFile(b.path(service), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf []byte
	for _, l := range lines {
		buf = logs.FormatLine(buf, l)
	}
	if _, err := f.Write(buf); err != nil {
		t.Fatal(err)
	}
}

func at(sec int, s logs.Stream, text string) logs.Line {
	return logs.Line{Time: lt0.Add(time.Duration(sec) * time.Second), Stream: s, Text: text}
}

type logsServer struct {
	srv    *Server
	client *http.Client
	done   chan struct{}
}

func serveLogs(t *testing.T, b *logsBackend, readTimeout time.Duration) *logsServer {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	ls := &logsServer{done: make(chan struct{})}
	ls.srv = New(Options{Backend: b, Logger: slog.New(slog.DiscardHandler), Shutdown: func() {}, Done: ls.done})
	l, err := ls.srv.ListenSocket(sock, Access{})
	if err != nil {
		t.Fatal(err)
	}
	if readTimeout > 0 {
		ls.srv.http.ReadTimeout = readTimeout
	}
	go ls.srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ls.srv.Close(ctx)
	})
	ls.client = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	return ls
}

func newLogsBackend(t *testing.T, services ...string) *logsBackend {
	return &logsBackend{dir: t.TempDir(), services: services}
}

func getLogs(t *testing.T, c *http.Client, query string) []api.LogLine {
	t.Helper()
	resp, err := c.Get("http://x" + api.PathLogs + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s %s", query, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var out []api.LogLine
	dec := json.NewDecoder(resp.Body)
	for {
		var l api.LogLine
		if err := dec.Decode(&l); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("GET %s: %v", query, err)
		}
		out = append(out, l)
	}
}

func brief(lines []api.LogLine) []string {
	var s []string
	for _, l := range lines {
		s = append(s, l.Service+"/"+l.Stream+"/"+l.Line)
	}
	return s
}

func TestLogsMergesServicesByTime(t *testing.T) {
	b := newLogsBackend(t, "db", "web", "quiet")
	b.write(t, "web", at(1, logs.Stdout, "w1"), at(3, logs.Stderr, "w3"), at(5, logs.Stdout, "w5"))
	b.write(t, "db", at(2, logs.Stdout, "d2"), at(3, logs.Stdout, "d3"), at(6, logs.Stdout, "d6"))
	ls := serveLogs(t, b, 0)
	all := []string{"web/stdout/w1", "db/stdout/d2", "db/stdout/d3", "web/stderr/w3", "web/stdout/w5", "db/stdout/d6"}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", all}, // ties (d3, w3) in config order: db first
		{"?n=0", all},
		{"?n=3", all[3:]},
		{"?n=100", all},
		{"?name=web", []string{"web/stdout/w1", "web/stderr/w3", "web/stdout/w5"}},
		{"?name=web&name=web&n=1", []string{"web/stdout/w5"}},
		{"?name=web&name=db&n=2", []string{"web/stdout/w5", "db/stdout/d6"}},
		{"?since=" + lt0.Add(5*time.Second).Format(time.RFC3339), []string{"web/stdout/w5", "db/stdout/d6"}},
		{"?name=quiet", nil},
	} {
		got := getLogs(t, ls.client, tc.query)
		if !slices.Equal(brief(got), tc.want) {
			t.Errorf("%q: got %q, want %q", tc.query, brief(got), tc.want)
		}
	}
	got := getLogs(t, ls.client, "?name=db&n=1")
	if len(got) != 1 || !got[0].Time.Equal(lt0.Add(6*time.Second)) {
		t.Errorf("time not carried: %+v", got)
	}
}

func TestLogsBadRequests(t *testing.T) {
	b := newLogsBackend(t, "web")
	ls := serveLogs(t, b, 0)
	for _, tc := range []struct {
		query  string
		status int
		code   string
	}{
		{"?n=-1", 400, api.CodeBadRequest},
		{"?n=ten", 400, api.CodeBadRequest},
		{"?n=99999999999999999999999", 400, api.CodeBadRequest},
		{"?since=yesterday", 400, api.CodeBadRequest},
		{"?since=-5m", 400, api.CodeBadRequest},
		{"?follow=maybe", 400, api.CodeBadRequest},
		{"?name=nope", 404, api.CodeUnknownService},
		{"?name=web&name=nope", 404, api.CodeUnknownService},
	} {
		resp, err := ls.client.Get("http://x" + api.PathLogs + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		var e api.Error
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
			t.Errorf("%s: %d %+v (%v), want %d %s", tc.query, resp.StatusCode, e, err, tc.status, tc.code)
		}
	}
	if n := b.logCalls.Load(); n != 2 {
		t.Errorf("LogFiles called %d times, want only for the two requests with good parameters", n)
	}
}

// followStream is an open follow request.
type followStream struct {
	t      *testing.T
	lines  chan api.LogLine
	ended  chan error
	cancel context.CancelFunc
}

func openFollow(t *testing.T, c *http.Client, query string) *followStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://x"+api.PathLogs+query, nil)
	resp, err := c.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		cancel()
		t.Fatalf("follow: %d", resp.StatusCode)
	}
	fs := &followStream{t: t, lines: make(chan api.LogLine, 100), ended: make(chan error, 1), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var l api.LogLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				fs.ended <- err
				return
			}
			fs.lines <- l
		}
		fs.ended <- sc.Err()
	}()
	t.Cleanup(cancel)
	return fs
}

func (fs *followStream) expect(want ...string) {
	fs.t.Helper()
	var got []string
	timeout := time.After(10 * time.Second)
	for len(got) < len(want) {
		select {
		case l := <-fs.lines:
			got = append(got, l.Service+"/"+l.Stream+"/"+l.Line)
		case err := <-fs.ended:
			fs.t.Fatalf("stream ended (%v) after %q, want %q", err, got, want)
		case <-timeout:
			fs.t.Fatalf("got %q, want %q", got, want)
		}
	}
	if !slices.Equal(got, want) {
		fs.t.Fatalf("got %q, want %q", got, want)
	}
}

func (fs *followStream) expectEnd() {
	fs.t.Helper()
	select {
	case l := <-fs.lines:
		fs.t.Fatalf("unexpected line %+v", l)
	case <-fs.ended:
	case <-time.After(10 * time.Second):
		fs.t.Fatal("stream did not end")
	}
}

func TestLogsFollowMultiplexesAcrossRotation(t *testing.T) {
	b := newLogsBackend(t, "db", "web")
	b.write(t, "web", at(1, logs.Stdout, "old"), at(2, logs.Stdout, "w2"))
	ls := serveLogs(t, b, 0)
	fs := openFollow(t, ls.client, "?n=1&follow=1")
	fs.expect("web/stdout/w2") // the history, so the followers are in place
	b.write(t, "web", at(3, logs.Stderr, "w3"))
	fs.expect("web/stderr/w3")
	b.write(t, "db", at(4, logs.Stdout, "d4")) // db's file did not exist until now
	fs.expect("db/stdout/d4")
	if err := os.Rename(b.path("web"), b.path("web")+".1"); err != nil {
		t.Fatal(err)
	}
	b.write(t, "web", at(5, logs.Stdout, "after rotation"))
	fs.expect("web/stdout/after rotation")

	// The client goes away: the handler and its followers end, so Close does not wait.
	fs.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ls.srv.Close(ctx); err != nil {
		t.Fatalf("Close with a cancelled follow: %v", err)
	}
}

func TestLogsFollowOutlivesReadTimeout(t *testing.T) {
	b := newLogsBackend(t, "web")
	b.write(t, "web", at(1, logs.Stdout, "first"))
	const readTimeout = 200 * time.Millisecond
	ls := serveLogs(t, b, readTimeout)
	start := time.Now()
	fs := openFollow(t, ls.client, "?follow=1")
	fs.expect("web/stdout/first")
	// Let the server's read timeout pass several times over: that is what is tested.
	time.Sleep(5*readTimeout - time.Since(start))
	b.write(t, "web", at(2, logs.Stdout, "later"))
	fs.expect("web/stdout/later")
}

func TestLogsFollowEndsAtShutdown(t *testing.T) {
	b := newLogsBackend(t, "web")
	ls := serveLogs(t, b, 0)
	fs := openFollow(t, ls.client, "?follow=1")
	b.write(t, "web", at(1, logs.Stdout, "x"))
	fs.expect("web/stdout/x")
	close(ls.done)
	fs.expectEnd()
}
