package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

type fakeAlerts struct{}

type ruleErr string

func (e ruleErr) Error() string   { return fmt.Sprintf("no alert rule %q in the config", string(e)) }
func (e ruleErr) APICode() string { return api.CodeUnknownRule }

func (fakeAlerts) Test(_ context.Context, rule string) ([]api.AlertAttempt, error) {
	if rule != "" && rule != "pager" {
		return nil, ruleErr(rule)
	}
	return []api.AlertAttempt{{Rule: "pager", Destination: "hook", Kind: "webhook", OK: true, Tries: 1}}, nil
}

func serveAlerts(t *testing.T, a Alerts) (*http.Client, *[]api.Event) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	var audited []api.Event
	var mu sync.Mutex // guards audited
	srv := New(Options{Backend: &fakeBackend{}, Logger: slog.New(slog.DiscardHandler), Shutdown: func() {}, Done: make(chan struct{}),
		Alerts: a, Audit: func(e api.Event) { mu.Lock(); audited = append(audited, e); mu.Unlock() }})
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
	}}}, &audited
}

func TestAlertsTestEndpoint(t *testing.T) {
	with, audited := serveAlerts(t, fakeAlerts{})
	without, _ := serveAlerts(t, nil)
	for _, tc := range []struct {
		c            *http.Client
		method, body string
		status       int
		code         string // error code, or "" for a 200 with attempts
	}{
		{with, "POST", `{}`, 200, ""},
		{with, "POST", `{"rule": "pager"}`, 200, ""},
		{with, "POST", `{"rule": "nope"}`, 404, api.CodeUnknownRule},
		{with, "POST", `{"rule": 1}`, 400, api.CodeBadRequest},
		{with, "POST", `{"rules": "x"}`, 400, api.CodeBadRequest},
		{with, "GET", ``, 405, api.CodeMethod},
		{without, "POST", `{}`, 404, api.CodeUnknownRule},
	} {
		req, _ := http.NewRequest(tc.method, "http://x"+api.PathAlertsTest, strings.NewReader(tc.body))
		resp, err := tc.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.body, resp.StatusCode, data, tc.status)
			continue
		}
		if tc.code != "" {
			var e api.Error
			if err := json.Unmarshal(data, &e); err != nil || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Errorf("%s: %s, want code %s", tc.body, data, tc.code)
			}
			continue
		}
		var a api.AlertAttempts
		if err := json.Unmarshal(data, &a); err != nil || len(a.Attempts) != 1 || !a.Attempts[0].OK {
			t.Errorf("%s: %s", tc.body, data)
		}
	}
	// Every answer was read: the audits happened before them.
	if len(*audited) != 3 || (*audited)[0].Command != "alerts test" || (*audited)[1].Args[0] != "pager" {
		t.Errorf("audited %+v", *audited)
	}
}
