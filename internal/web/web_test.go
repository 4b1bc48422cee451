package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	resp := rec.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPageAndFiles(t *testing.T) {
	for _, c := range []struct{ path, ctype, has string }{
		{"/", "text/html", `<script src="/ui/app.js"`},
		{"/ui/app.js", "javascript", "function render()"},
		{"/ui/style.css", "text/css", ".state-running"},
		{"/ui/favicon.svg", "image/svg+xml", "<svg"},
	} {
		resp, body := get(t, http.MethodGet, c.path)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), c.ctype) || !strings.Contains(body, c.has) {
			t.Errorf("GET %s: %d %q, body without %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.has)
		}
		// Nothing but the page's own files may run or load.
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", c.path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", c.path)
		}
	}
	if resp, body := get(t, http.MethodHead, "/"); resp.StatusCode != http.StatusOK || body != "" {
		t.Errorf("HEAD /: %d with %d bytes", resp.StatusCode, len(body))
	}
}

func TestPageRefusesTheRest(t *testing.T) {
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/ui/app.js", http.StatusMethodNotAllowed},
		{http.MethodGet, "/ui/nope.js", http.StatusNotFound},
		{http.MethodGet, "/ui/../web.go", http.StatusNotFound},
		{http.MethodGet, "/ui/", http.StatusNotFound},
		{http.MethodGet, "/ui/index.html", http.StatusNotFound},
		{http.MethodGet, "/elsewhere", http.StatusNotFound},
	} {
		resp, body := get(t, c.method, c.path)
		if resp.StatusCode != c.code {
			t.Errorf("%s %s: %d %q, want %d", c.method, c.path, resp.StatusCode, body, c.code)
		}
	}
}

// The page is served to anyone: it must hold no data, only the shell the
// script fills from the API with the token.
func TestPageHoldsNoData(t *testing.T) {
	_, body := get(t, http.MethodGet, "/")
	tbody := body[strings.Index(body, "<tbody>"):]
	if !strings.HasPrefix(tbody, "<tbody></tbody>") {
		t.Errorf("the table is not empty: %.80s", tbody)
	}
	_, js := get(t, http.MethodGet, "/ui/app.js")
	// Text from the supervisor is set as text only.
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
		if strings.Contains(js, bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}
