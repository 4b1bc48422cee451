package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/supervisor"
)

type fakeBackend struct{ calls atomic.Int32 }

func (f *fakeBackend) Status(names []string) (api.Status, error) {
	for _, n := range names {
		if n != "web" {
			return api.Status{}, &supervisor.UnknownServiceError{Names: []string{n}}
		}
	}
	pct := 1.5
	return api.Status{Services: []api.Service{{Name: "web", State: "running", CPUPercent: &pct}}}, nil
}

// Overview is Status without the measurement.
func (f *fakeBackend) Overview(names []string) (api.Status, error) {
	st, err := f.Status(names)
	for i := range st.Services {
		st.Services[i].CPUPercent = nil
	}
	return st, err
}

func (f *fakeBackend) act(_ context.Context, names []string) ([]api.Result, error) {
	for _, n := range names {
		if n != "web" && n != "all" {
			return nil, &supervisor.UnknownServiceError{Names: []string{n}}
		}
	}
	f.calls.Add(1)
	return []api.Result{{Name: "web", State: "running", Pid: 42}}, nil
}

func (f *fakeBackend) StartServices(ctx context.Context, n []string) ([]api.Result, error) {
	return f.act(ctx, n)
}
func (f *fakeBackend) StopServices(ctx context.Context, n []string) ([]api.Result, error) {
	return f.act(ctx, n)
}
func (f *fakeBackend) RestartServices(ctx context.Context, n []string) ([]api.Result, error) {
	return f.act(ctx, n)
}

func (f *fakeBackend) SignalServices(ctx context.Context, _ syscall.Signal, n []string) ([]api.Result, error) {
	return f.act(ctx, n)
}

func (f *fakeBackend) Why(name string) (api.Why, error) {
	if name != "web" {
		return api.Why{}, &supervisor.UnknownServiceError{Names: []string{name}}
	}
	return api.Why{Service: api.Service{Name: "web"}, Summary: "running"}, nil
}

func (f *fakeBackend) LogFiles(names []string) ([]LogFile, error) {
	return []LogFile{{Service: "web", Path: "/nonexistent/web.log"}}, nil
}

func (f *fakeBackend) Reload(context.Context, bool) (api.Plan, error) {
	f.calls.Add(1)
	return api.Plan{Applied: true}, nil
}

func serve(t *testing.T) (*http.Client, *fakeBackend) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	b := &fakeBackend{}
	srv := New(Options{Backend: b, Logger: slog.New(slog.DiscardHandler), Shutdown: func() {}, Done: make(chan struct{})})
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
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	return c, b
}

func TestBadRequestsGetJSONErrorsAndChangeNothing(t *testing.T) {
	c, b := serve(t)
	cases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", api.PathStart, `{"names": [`, 400, api.CodeBadRequest},
		{"POST", api.PathStart, `{"names": ["web"], "extra": 1}`, 400, api.CodeBadRequest},
		{"POST", api.PathStart, `{"names": []}`, 400, api.CodeBadRequest},
		{"POST", api.PathStart, `{"names": ["web"]} {}`, 400, api.CodeBadRequest},
		{"POST", api.PathStart, `not json at all`, 400, api.CodeBadRequest},
		{"POST", api.PathStop, `{"names": ["nope"]}`, 404, api.CodeUnknownService},
		{"GET", api.PathStatus + "?name=nope", ``, 404, api.CodeUnknownService},
		{"GET", api.PathStart, ``, 405, api.CodeMethod},
		{"DELETE", api.PathStatus, ``, 405, api.CodeMethod},
		{"GET", "/v2/whatever", ``, 404, api.CodeNotFound},
		{"POST", api.PathSignal, `{"signal": "NOPE", "names": ["web"]}`, 400, api.CodeBadRequest},
		{"POST", api.PathSignal, `{"signal": "99", "names": ["web"]}`, 400, api.CodeBadRequest},
		{"POST", api.PathSignal, `{"signal": "TERM", "names": []}`, 400, api.CodeBadRequest},
		{"POST", api.PathSignal, `{"signal": "TERM", "names": ["nope"]}`, 404, api.CodeUnknownService},
		{"GET", api.PathWhy, ``, 400, api.CodeBadRequest},
		{"GET", api.PathWhy + "?name=nope", ``, 404, api.CodeUnknownService},
		{"POST", api.PathReload, `{"dry_run": "yes"}`, 400, api.CodeBadRequest},
		{"POST", api.PathRestart, `{"names": ["` + strings.Repeat("x", 2<<20) + `"]}`, 413, api.CodeBadRequest},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, "http://x"+tc.path, strings.NewReader(tc.body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e api.Error
		if err := json.Unmarshal(data, &e); err != nil {
			t.Errorf("%s %s: body is not JSON: %q", tc.method, tc.path, data)
		}
		if resp.StatusCode != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
			t.Errorf("%s %s %.40q: got %d %+v, want %d %s", tc.method, tc.path, tc.body, resp.StatusCode, e, tc.status, tc.code)
		}
	}
	if n := b.calls.Load(); n != 0 {
		t.Errorf("bad requests reached the backend %d times", n)
	}
}

func TestGoodRequests(t *testing.T) {
	c, b := serve(t)
	resp, err := c.Get("http://x" + api.PathStatus)
	if err != nil {
		t.Fatal(err)
	}
	var st api.Status
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(st.Services) != 1 || st.Services[0].Name != "web" || st.Services[0].CPUPercent == nil {
		t.Errorf("status: %d %+v", resp.StatusCode, st)
	}
	// usage=0 asks for the states without the measurement.
	resp, err = c.Get("http://x" + api.PathStatus + "?usage=0&name=web")
	if err != nil {
		t.Fatal(err)
	}
	st = api.Status{}
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(st.Services) != 1 || st.Services[0].CPUPercent != nil {
		t.Errorf("status?usage=0: %d %+v, want web without cpu_percent", resp.StatusCode, st)
	}
	resp, err = c.Post("http://x"+api.PathRestart, "application/json", bytes.NewReader([]byte(`{"names":["web"]}`)))
	if err != nil {
		t.Fatal(err)
	}
	var res api.Results
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(res.Results) != 1 || res.Results[0].Pid != 42 || b.calls.Load() != 1 {
		t.Errorf("restart: %d %+v", resp.StatusCode, res)
	}
}

// bigBackend answers a status of many services, built once.
type bigBackend struct {
	fakeBackend
	st api.Status
}

func (b *bigBackend) Status([]string) (api.Status, error) { return b.st, nil }

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// The status handler writes its answer without an allocation per service:
// a status asked for again and again (status --watch, top, scripts) stays
// cheap however many services there are.
func TestStatusAnswerAllocations(t *testing.T) {
	b := &bigBackend{}
	now := time.Now()
	for i := range 200 {
		pct, mem := 1.5, uint64(1<<20)
		b.st.Services = append(b.st.Services, api.Service{Name: fmt.Sprintf("svc%03d", i), Kind: "process", State: "running", Wanted: "up",
			Since: now, Pid: 1000 + i, StartedAt: &now, Health: "unknown", Containment: "cgroup", CPUPercent: &pct, MemoryBytes: &mem})
	}
	srv := New(Options{Backend: b, Logger: slog.New(slog.DiscardHandler), Shutdown: func() {}, Done: make(chan struct{})})
	req, err := http.NewRequest(http.MethodGet, api.PathStatus, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &discardWriter{h: http.Header{}}
	srv.status(w, req) // the buffer pool's first buffer
	allocs := testing.AllocsPerRun(50, func() { srv.status(w, req) })
	if allocs > 20 {
		t.Errorf("%.0f allocations to answer a status of 200 services, want at most 20", allocs)
	}
}
