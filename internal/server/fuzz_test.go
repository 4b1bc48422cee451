package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/supervisor"
)

// knownServices are the only names fuzzBackend acts on.
var knownServices = []string{"web", "db", "all"}

// fuzzBackend changes its "state" (counts a mutation) only for requests a
// real supervisor would act on, and records what it was asked, so that a
// fuzz run can check that no bad request reaches a change.
type fuzzBackend struct {
	mu        sync.Mutex
	mutations int
	bad       []string // invariant violations seen by the backend itself
}

func (b *fuzzBackend) violate(msg string) {
	b.mu.Lock()
	b.bad = append(b.bad, msg)
	b.mu.Unlock()
}

func (b *fuzzBackend) mutate(names []string) error {
	if len(names) == 0 {
		b.violate("mutating call with no names")
	}
	for _, n := range names {
		if !slices.Contains(knownServices, n) {
			return &supervisor.UnknownServiceError{Names: []string{n}}
		}
	}
	b.mu.Lock()
	b.mutations++
	b.mu.Unlock()
	return nil
}

func (b *fuzzBackend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mutations
}

func (b *fuzzBackend) act(_ context.Context, names []string) ([]api.Result, error) {
	if err := b.mutate(names); err != nil {
		return nil, err
	}
	return []api.Result{{Name: names[0], State: "running", Pid: 42}}, nil
}

func (b *fuzzBackend) Overview(names []string) (api.Status, error) { return b.Status(names) }

func (b *fuzzBackend) Status(names []string) (api.Status, error) {
	for _, n := range names {
		if !slices.Contains(knownServices, n) {
			return api.Status{}, &supervisor.UnknownServiceError{Names: []string{n}}
		}
	}
	return api.Status{Services: []api.Service{{Name: "web", State: "running"}}}, nil
}

func (b *fuzzBackend) StartServices(ctx context.Context, n []string) ([]api.Result, error) {
	return b.act(ctx, n)
}

func (b *fuzzBackend) StopServices(ctx context.Context, n []string) ([]api.Result, error) {
	return b.act(ctx, n)
}

func (b *fuzzBackend) RestartServices(ctx context.Context, n []string) ([]api.Result, error) {
	return b.act(ctx, n)
}

func (b *fuzzBackend) SignalServices(ctx context.Context, sig syscall.Signal, n []string) ([]api.Result, error) {
	if sig <= 0 || sig > 64 {
		b.violate("signal call with signal " + sig.String())
	}
	return b.act(ctx, n)
}

func (b *fuzzBackend) Why(name string) (api.Why, error) {
	if !slices.Contains(knownServices, name) || name == "all" {
		return api.Why{}, &supervisor.UnknownServiceError{Names: []string{name}}
	}
	return api.Why{Service: api.Service{Name: name}}, nil
}

func (b *fuzzBackend) LogFiles(names []string) ([]LogFile, error) {
	for _, n := range names {
		if !slices.Contains(knownServices, n) {
			return nil, &supervisor.UnknownServiceError{Names: []string{n}}
		}
	}
	return []LogFile{{Service: "web", Path: "/nonexistent/respawn-fuzz/web.log"}}, nil
}

func (b *fuzzBackend) Reload(_ context.Context, dryRun bool) (api.Plan, error) {
	if !dryRun {
		b.mu.Lock()
		b.mutations++
		b.mu.Unlock()
	}
	return api.Plan{Applied: !dryRun}, nil
}

// fuzzEvents replays two events and, when asked to follow, waits for the
// request to end.
type fuzzEvents struct{}

func (fuzzEvents) Follow(ctx context.Context, _ time.Time, _ int, follow bool, emit func(api.Event) error) error {
	for _, e := range []api.Event{{Time: time.Unix(1, 0), Type: api.EventSupervisor}, {Time: time.Unix(2, 0), Type: api.EventState, Service: "web"}} {
		if err := emit(e); err != nil {
			return err
		}
	}
	if follow {
		<-ctx.Done()
	}
	return nil
}

const fuzzToken = "s3cret-token"

// FuzzDecodeRequest drives the HTTP transport's handler (token check, then
// the route table) with arbitrary requests: it must never panic, every
// error answer must be JSON with an error code, and only an authorized,
// well-formed request naming known services may change anything.
func FuzzDecodeRequest(f *testing.F) {
	auth := "Bearer " + fuzzToken
	f.Add("GET", api.PathStatus, auth, []byte(nil))
	f.Add("GET", api.PathStatus+"?name=web&name=nope", auth, []byte(nil))
	f.Add("POST", api.PathStart, auth, []byte(`{"names":["web"]}`))
	f.Add("POST", api.PathStop, auth, []byte(`{"names":["all"]}`))
	f.Add("POST", api.PathRestart, "Bearer wrong", []byte(`{"names":["web"]}`))
	f.Add("POST", api.PathSignal, auth, []byte(`{"signal":"HUP","names":["db"]}`))
	f.Add("POST", api.PathSignal, auth, []byte(`{"signal":"64","names":["web"]}`))
	f.Add("POST", api.PathReload, auth, []byte(`{"dry_run":true}`))
	f.Add("GET", api.PathWhy+"?name=web", auth, []byte(nil))
	f.Add("GET", api.PathEvents+"?n=5&since=1h", auth, []byte(nil))
	f.Add("GET", api.PathLogs+"?name=web&n=3", auth, []byte(nil))
	f.Add("GET", PathMetrics, auth, []byte(nil))
	f.Add("PUT", api.PathStart, "", []byte(`{"names":["web"]`))

	f.Fuzz(func(t *testing.T, method, target, authz string, body []byte) {
		b := &fuzzBackend{}
		done := make(chan struct{})
		close(done)
		s := New(Options{Backend: b, Events: fuzzEvents{}, Shutdown: func() {}, Done: done})
		metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("respawn_service_up 1\n")) })
		h := s.HTTPHandler(fuzzToken, metrics)

		// Followed streams would never end: bound every request.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, "http://respawn"+target, bytes.NewReader(body))
		if err != nil || req.URL.Host != "respawn" {
			return // not a request a client could send
		}
		req.RemoteAddr = "127.0.0.1:1234"
		req.Header.Set("Authorization", authz)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		for _, v := range b.bad {
			t.Errorf("backend saw: %s", v)
		}
		code := rec.Code
		if code >= 300 {
			var e api.Error
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s %q: status %d with body %q: want a JSON error with a code", method, target, code, rec.Body.String())
			}
			if b.count() != 0 {
				t.Fatalf("%s %q: status %d but the backend changed state", method, target, code)
			}
		}
		if !okAuth(authz) && code != http.StatusUnauthorized {
			t.Fatalf("%s %q with Authorization %q: status %d, want 401", method, target, authz, code)
		}
	})
}

// okAuth reports whether authz carries the fuzz token in a form the
// handler accepts: any case of the scheme, spaces around the token.
func okAuth(authz string) bool {
	r := &http.Request{Header: http.Header{"Authorization": {authz}}}
	tok, ok := bearerOf(r)
	return ok && tok == fuzzToken
}
