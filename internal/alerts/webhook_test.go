package alerts

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
)

func testAlert() api.Alert {
	return api.Alert{Rule: "r", Trigger: "failed", Service: "db", Message: "db entered failed: exit status 1", Time: time.Now().UTC(), Host: "h"}
}

// A real server on a real socket: the signature checks out with the key
// from the secret file, and two 500s are retried.
func TestWebhookSignedAndRetried(t *testing.T) {
	key := "k3y-from-a-file"
	dir := t.TempDir()
	secret := filepath.Join(dir, "hook.secret")
	if err := os.WriteFile(secret, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	bodies := make(chan []byte, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := hmac.New(sha256.New, []byte(key))
		m.Write(body)
		if got, want := r.Header.Get(SignatureHeader), "sha256="+hex.EncodeToString(m.Sum(nil)); got != want || r.Method != http.MethodPost ||
			r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s, signature %q, want %q", r.Method, got, want)
		}
		if calls.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusInternalServerError)
			return
		}
		bodies <- body
	}))
	defer srv.Close()
	send := webhookSender(&config.WebhookAlert{URL: srv.URL + "/hook", Secret: config.Secret{File: secret}, Timeout: time.Second, Retries: 3, Backoff: 10 * time.Millisecond}, nil)
	tries, err := send(t.Context(), testAlert())
	if err != nil || tries != 3 {
		t.Fatalf("send = %d tries, %v; want 3, nil", tries, err)
	}
	var got api.Alert
	if err := json.Unmarshal(<-bodies, &got); err != nil || got.Service != "db" || got.Trigger != "failed" || got.Message == "" {
		t.Errorf("body = %+v, %v", got, err)
	}
}

// A 4xx will not change by trying again; 500s past the retries fail with
// the server's answer; a missing secret fails before anything is sent.
func TestWebhookFailures(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if strings.HasSuffix(r.URL.Path, "/gone") {
			http.Error(w, "no such hook", http.StatusNotFound)
			return
		}
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	w := &config.WebhookAlert{URL: srv.URL + "/gone?token=abc", Timeout: time.Second, Retries: 3, Backoff: time.Millisecond}
	tries, err := webhookSender(w, nil)(t.Context(), testAlert())
	if tries != 1 || err == nil || !strings.Contains(err.Error(), "404 Not Found: no such hook") || strings.Contains(err.Error(), "abc") {
		t.Errorf("404: %d tries, %v", tries, err)
	}
	w.URL = srv.URL + "/down"
	w.Retries = 2
	tries, err = webhookSender(w, nil)(t.Context(), testAlert())
	if tries != 3 || err == nil || !strings.Contains(err.Error(), "503 Service Unavailable: down for maintenance") {
		t.Errorf("503: %d tries, %v", tries, err)
	}
	if n := calls.Load(); n != 4 {
		t.Errorf("server saw %d requests, want 4", n)
	}
	w.Secret = config.Secret{Env: "HOOK_SECRET"}
	lookup := func(string) (string, bool) { return "", false }
	if tries, err := webhookSender(w, lookup)(t.Context(), testAlert()); tries != 0 || err == nil || !strings.Contains(err.Error(), "HOOK_SECRET is not set") {
		t.Errorf("no secret: %d tries, %v", tries, err)
	}
	if calls.Load() != 4 {
		t.Error("sent without its secret")
	}
}

// A server that never answers costs each try its timeout, no more.
func TestWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	w := &config.WebhookAlert{URL: srv.URL, Timeout: 100 * time.Millisecond, Retries: 1, Backoff: 10 * time.Millisecond}
	start := time.Now()
	tries, err := webhookSender(w, nil)(t.Context(), testAlert())
	took := time.Since(start)
	if tries != 2 || err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("%d tries, %v", tries, err)
	}
	if took < 200*time.Millisecond || took > 5*time.Second {
		t.Errorf("took %s, want about 2 timeouts of 100ms", took)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.example.com/x":               "https://hooks.example.com/x",
		"https://user:pw@hooks.example.com/x?t=abc": "https://...@hooks.example.com/x?...",
		"http://h/x#frag":                           "http://h/x?...",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
