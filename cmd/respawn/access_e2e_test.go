//go:build linux

package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// waitRefused polls `events -o json` until match finds a refused event.
func (s *sup) waitRefused(what string, match func(api.Event) bool) api.Event {
	s.t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		out, errs, code := s.run("events", "-o", "json")
		if code != 0 {
			s.t.Fatalf("events: exit %d: %s", code, errs)
		}
		for line := range strings.Lines(out) {
			var e api.Event
			if json.Unmarshal([]byte(line), &e) == nil && e.Type == api.EventRefused && match(e) {
				return e
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("no refused event for %s in the journal", what)
	return api.Event{}
}

func TestSocketRefusesAnotherUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the CLI as nobody")
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		t.Skip("needs runuser")
	}
	s := startSup(t, "version: 1\nservices:\n  web: {command: sleep 4711}\n")
	s.waitFor("web", "running", func(svc api.Service) bool { return svc.State == "running" })

	// Open every way to the socket, so that only the peer check stands in
	// the way: the directories, the state dir, the socket file, and a copy
	// of the binary nobody can run.
	for d := s.dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stateDir := filepath.Join(s.dir, ".respawn")
	if err := os.Chmod(stateDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(stateDir, "respawn.sock"), 0o666); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(s.dir, "respawn-copy")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, runuser, "-u", "nobody", "--", exe, "stop", "web", "-c", s.config)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("stop as nobody: %v, want exit 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "uid 65534 may not use this socket") {
		t.Fatalf("stop as nobody said %q, want the refusal", out)
	}
	if svc := s.service("web"); svc.State != "running" {
		t.Fatalf("web is %s after a refused stop", svc.State)
	}
	e := s.waitRefused("uid 65534", func(e api.Event) bool { return e.UID != nil && *e.UID == 65534 })
	if e.CallerPid == 0 || !strings.Contains(e.Message, "may not use this socket") {
		t.Fatalf("refused event %+v lacks the caller pid or the reason", e)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeTokenFile(t *testing.T, token string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret.token")
	if err := os.WriteFile(p, []byte(token+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHTTPListenerWithToken(t *testing.T) {
	t.Parallel()
	const token = "e2e-token-0123456789abcdef"
	tokFile := writeTokenFile(t, token, 0o600)
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	s := startSup(t, "version: 1\nsupervisor:\n  http: {listen: \""+addr+"\", token_file: "+tokFile+"}\nservices:\n  web: {command: sleep 4712}\n")
	s.waitFor("web", "running", func(svc api.Service) bool { return svc.State == "running" })

	c := &http.Client{Timeout: deadline}
	get := func(path, auth string) (int, string, http.Header) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), resp.Header
	}

	for _, auth := range []string{"", "Bearer wrong-token"} {
		code, body, h := get(api.PathStatus, auth)
		if code != http.StatusUnauthorized || !strings.Contains(body, api.CodeUnauthorized) || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("Authorization %q: %d %s, want 401 unauthorized with a Bearer challenge", auth, code, body)
		}
	}
	code, body, _ := get(api.PathStatus, "Bearer "+token)
	var st api.Status
	if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil || len(st.Services) != 1 || st.Services[0].Name != "web" {
		t.Fatalf("status with the token: %d %s", code, body)
	}
	code, body, _ = get("/metrics", "Bearer "+token)
	if code != http.StatusOK {
		t.Fatalf("metrics: %d %s", code, body)
	}
	for _, want := range []string{
		`respawn_service_up{service="web"} 1`,
		`respawn_service_state{service="web",state="running"} 1`,
		`respawn_service_restarts_total{service="web"} 0`,
		`respawn_service_exits_total{reason="failure",service="web"}`,
		`respawn_service_start_time_seconds{service="web"}`,
		`respawn_service_cpu_seconds_total{service="web"}`,
		`respawn_service_memory_bytes{service="web"}`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, _, _ := get("/metrics", ""); code != http.StatusUnauthorized {
		t.Fatalf("metrics without the token: %d", code)
	}
	s.waitRefused("the HTTP request without a token", func(e api.Event) bool { return strings.Contains(e.Message, "without a bearer token") })
}

func TestUpRefusesAnOpenTokenFile(t *testing.T) {
	t.Parallel()
	tokFile := writeTokenFile(t, "some-token-0123456789abcdef", 0o644)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "respawn.yaml")
	src := "version: 1\nsupervisor:\n  http: {listen: \"127.0.0.1:" + strconv.Itoa(freePort(t)) + "\", token_file: " + tokFile + "}\nservices:\n  web: {command: sleep 4713}\n"
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "up", "--no-output", "-c", cfg)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("up kept running with a token file readable by others\n%s", out)
	}
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("up: %v, want exit 1\n%s", err, out)
	}
	if !strings.Contains(string(out), tokFile) || !strings.Contains(string(out), "0644") {
		t.Fatalf("up said %q, want the file and its mode named", out)
	}
}

func TestUpAndCheckRefuseAWeakToken(t *testing.T) {
	t.Parallel()
	tokFile := writeTokenFile(t, "x", 0o600)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "respawn.yaml")
	src := "version: 1\nsupervisor:\n  http:\n    listen: \"127.0.0.1:" + strconv.Itoa(freePort(t)) + "\"\n    token_file: " + tokFile + "\nservices:\n  web: {command: sleep 4715}\n"
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	want := cfg + ":5:17: supervisor.http.token_file: " + tokFile + " is too easy to guess: the token is 1 characters, about 6 bits; it needs at least 128 bits: 22 characters or more; make one with: (umask 077; head -c 32 /dev/urandom | base64 > " + tokFile + ")"
	for _, sub := range []string{"check", "up"} {
		// Bounded: an up that took the token would run until killed.
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		cmd := exec.CommandContext(ctx, bin, sub, "-c", cfg)
		cmd.Dir = dir
		cmd.WaitDelay = 5 * time.Second
		var errs strings.Builder
		cmd.Stderr = &errs
		err := cmd.Run()
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("%s kept running with a 1-byte token", sub)
		}
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(errs.String(), want) {
			t.Errorf("%s: %v, stderr %q; want exit 2 and %q", sub, err, errs.String(), want)
		}
	}
	// The recipe makes a token the supervisor takes.
	recipe := exec.Command("sh", "-c", "rm "+tokFile+" && (umask 077; head -c 32 /dev/urandom | base64 > "+tokFile+")")
	if out, err := recipe.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, errs, code := runRespawn(dir, "check", "-c", cfg); code != 0 {
		t.Fatalf("check with the recipe's token: exit %d %s %s", code, out, errs)
	}
}
