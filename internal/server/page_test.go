package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/respawn-sh/respawn/internal/api"
)

// The dashboard is served on the HTTP listener without a token; the API
// behind it is not.
func TestHTTPHandlerServesThePageWithoutToken(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "page "+r.URL.Path)
	})
	s := New(Options{Backend: &fakeBackend{}, Logger: slog.New(slog.DiscardHandler), Shutdown: func() {}, Done: make(chan struct{}), Page: page})
	h := s.HTTPHandler(testToken, nil)
	do := func(method, path, auth string) (int, string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, path, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	for _, p := range []string{"/", "/ui/app.js"} {
		if code, body := do(http.MethodGet, p, ""); code != http.StatusOK || body != "page "+p {
			t.Errorf("GET %s without a token: %d %q, want the page", p, code, body)
		}
	}
	for _, p := range []string{api.PathStatus, "/metrics", "/uix", "/v1/"} {
		if code, body := do(http.MethodGet, p, ""); code != http.StatusUnauthorized || strings.HasPrefix(body, "page") {
			t.Errorf("GET %s without a token: %d %q, want 401", p, code, body)
		}
	}
	if code, _ := do(http.MethodGet, api.PathStatus, testToken); code != http.StatusOK {
		t.Errorf("GET %s with the token: %d", api.PathStatus, code)
	}
	// Without a page, "/" is the API's, behind the token.
	s2 := New(Options{Backend: &fakeBackend{}, Logger: slog.New(slog.DiscardHandler), Shutdown: func() {}, Done: make(chan struct{})})
	rec := httptest.NewRecorder()
	s2.HTTPHandler(testToken, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("GET / without a page and a token: %d, want 401", rec.Code)
	}
}
