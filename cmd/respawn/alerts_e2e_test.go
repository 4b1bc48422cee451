//go:build linux

package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// hookServer is a webhook receiver on a real socket that checks each
// body's signature and keeps the alerts it got.
type hookServer struct {
	*httptest.Server
	mu  sync.Mutex // guards got
	got []api.Alert
}

func newHookServer(t *testing.T, key string) *hookServer {
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		m := hmac.New(sha256.New, []byte(key))
		m.Write(body)
		if r.Header.Get("X-Respawn-Signature") != "sha256="+hex.EncodeToString(m.Sum(nil)) {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		var a api.Alert
		if err := json.Unmarshal(body, &a); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.got = append(h.got, a)
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

// triggers lists the alerts received as "trigger service".
func (h *hookServer) triggers() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, a := range h.got {
		out = append(out, strings.TrimSpace(a.Trigger+" "+a.Service))
	}
	return out
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// A service that keeps crashing gives one crash-loop alert, however long
// it goes on; once fixed, one recovery. Both reach a signed webhook and a
// script; `alerts test` sends through both and says how it went.
func TestAlertsCrashLoopThenRecovery(t *testing.T) {
	t.Parallel()
	hook := newHookServer(t, "e2e-k3y")
	dir := t.TempDir()
	secret := filepath.Join(dir, "hook.secret")
	if err := os.WriteFile(secret, []byte("e2e-k3y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fixed, seen := filepath.Join(dir, "fixed"), filepath.Join(dir, "seen.jsonl")
	script := filepath.Join(dir, "alert.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n{ cat; } >>"+seen+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  flaky:
    command: ["sh", "-c", "if [ -e %s ]; then exec sleep 1000; fi; exit 1"]
    restart:
      backoff: {initial: 20ms, max: 100ms, factor: 2, jitter: 0}
      limit: {burst: 1000, window: 1m}
alerts:
  destinations:
    hook:
      webhook: {url: "%s/alerts", secret_file: %s, timeout: 5s, retries: 2, backoff: 100ms}
    script:
      exec: {command: [%s], timeout: 5s}
  rules:
    loops:
      on: [crash_loop, recovered]
      to: [hook, script]
      crash_loop: {restarts: 3, window: 1m}
      stable: 2s
`, fixed, hook.URL, secret, script))

	waitUntil(t, "a crash-loop alert", func() bool { return count(hook.triggers(), "crash_loop flaky") > 0 })
	// It keeps crashing: many more restarts, still one alert.
	first := s.service("flaky").Restarts
	s.waitFor("flaky", "10 more restarts", func(x api.Service) bool { return x.Restarts >= first+10 })
	if err := os.WriteFile(fixed, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a recovery alert", func() bool { return count(hook.triggers(), "recovered flaky") > 0 })
	got := hook.triggers()
	if count(got, "crash_loop flaky") != 1 || count(got, "recovered flaky") != 1 || len(got) != 2 {
		t.Errorf("webhook got %q, want one crash loop, one recovery", got)
	}
	waitUntil(t, "the script's two alerts", func() bool {
		b, _ := os.ReadFile(seen)
		return strings.Count(string(b), "\n") >= 2
	})
	var scriptGot []string
	b, _ := os.ReadFile(seen)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var a api.Alert
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("script stdin %q: %v", line, err)
		}
		scriptGot = append(scriptGot, a.Trigger+" "+a.Service)
	}
	if strings.Join(scriptGot, ",") != "crash_loop flaky,recovered flaky" {
		t.Errorf("script got %q", scriptGot)
	}
	// Every attempt is in the journal.
	sent := 0
	for _, e := range s.journalEvents() {
		if e.Type == api.EventAlert && e.Reason == "alert sent" && e.Service == "flaky" {
			sent++
		}
	}
	if sent != 4 {
		t.Errorf("journal has %d alerts sent for flaky, want 4 (2 alerts × 2 destinations)", sent)
	}

	out, errs, code := s.run("alerts", "test")
	if code != 0 || !strings.Contains(out, "loops  hook         webhook  ok") || !strings.Contains(out, "loops  script       exec     ok") {
		t.Errorf("alerts test: exit %d\n%s%s", code, out, errs)
	}
	waitUntil(t, "the test alert at the webhook", func() bool { return count(hook.triggers(), "test") == 1 })
	out, errs, code = s.run("alerts", "test", "loops", "-o", "json")
	var attempts api.AlertAttempts
	if err := json.Unmarshal([]byte(out), &attempts); code != 0 || err != nil || len(attempts.Attempts) != 2 || !attempts.Attempts[0].OK {
		t.Errorf("alerts test loops -o json: exit %d, %v\n%s%s", code, err, out, errs)
	}
	_, errs, code = s.run("alerts", "test", "nope")
	if code != 2 || !strings.Contains(errs, `no alert rule "nope"`) {
		t.Errorf("alerts test nope: exit %d, %s", code, errs)
	}
}

// A webhook that never answers neither delays a respawn nor blocks the
// journal; its failure is recorded once its tries run out.
func TestAlertsHangingWebhookDoesNotDelayRespawn(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex // guards calls
	calls := 0
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  victim:
    command: sleep %s
    restart:
      backoff: {initial: 10ms, max: 10ms, factor: 1, jitter: 0}
      limit: {burst: 1000, window: 1m}
alerts:
  destinations:
    stuck: {webhook: {url: "%s", timeout: 2s, retries: 1, backoff: 100ms}}
  rules:
    loops: {on: crash_loop, to: stuck, crash_loop: {restarts: 2, window: 1m}}
`, marker(t), hang.URL))
	kill := func() time.Duration {
		before := s.waitFor("victim", "running", func(x api.Service) bool { return x.State == "running" && x.Pid > 0 })
		start := time.Now()
		if err := syscall.Kill(before.Pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		s.waitFor("victim", "respawned", func(x api.Service) bool { return x.State == "running" && x.Pid > 0 && x.Pid != before.Pid })
		return time.Since(start)
	}
	kill()
	kill() // the crash loop: its alert now hangs at the webhook
	waitUntil(t, "the webhook is called", func() bool { mu.Lock(); defer mu.Unlock(); return calls > 0 })
	// Measured while the webhook hangs: a respawn is status polls and a
	// fork away, far from the 2 s a try of the webhook takes.
	if took := kill(); took > 1500*time.Millisecond {
		t.Errorf("kill → respawn took %s while the webhook hung", took)
	}
	mu.Lock()
	if calls != 1 {
		t.Errorf("webhook called %d times during its first try, want 1", calls)
	}
	mu.Unlock()
	var failed api.Event
	waitUntil(t, "the failed alert in the journal", func() bool {
		for _, e := range s.journalEvents() {
			if e.Type == api.EventAlert && e.Reason == "alert failed" {
				failed = e
				return true
			}
		}
		return false
	})
	if !strings.Contains(failed.Message, "rule loops, crash_loop to stuck (webhook), 2 tries") || !strings.Contains(failed.Message, "deadline exceeded") {
		t.Errorf("failed alert: %+v", failed)
	}
}

// A crash of the core is an alert, sent by the core that takes over, with
// the environment a script reads.
func TestAlertsCoreCrashed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seen := filepath.Join(dir, "seen.env")
	script := filepath.Join(dir, "alert.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nenv | grep '^RESPAWN_' | sort >>"+seen+".tmp && mv "+seen+".tmp "+seen+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  steady:
    command: sleep %s
alerts:
  destinations:
    script: {exec: {command: [%s]}}
  rules:
    core: {on: [core_crashed, core_hung], to: script}
`, marker(t), script))
	st := s.status()
	if err := syscall.Kill(st.Supervisor.CorePid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.waitNewCore(st.Supervisor.CorePid)
	waitUntil(t, "the core_crashed alert", func() bool { _, err := os.Stat(seen); return err == nil })
	env := readFile(t, seen)
	for _, want := range []string{"RESPAWN_EVENT=core_crashed\n", "RESPAWN_RULE=core\n", "RESPAWN_SERVICE=\n", "RESPAWN_MESSAGE=core crashed: killed by signal 9\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("the script's environment lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(env, "RESPAWN_KEEPER_SOCKET") {
		t.Errorf("the supervisor's own variables reached the script:\n%s", env)
	}
}

// Alerts added by an edit of the config take effect at `respawn reload`,
// and not at a dry run.
func TestAlertsReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seen := filepath.Join(dir, "seen.jsonl")
	script := filepath.Join(dir, "alert.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ncat >>"+seen+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("version: 1\nservices:\n  steady:\n    command: sleep %s\n", marker(t))
	s := startSup(t, base)
	_, errs, code := s.run("alerts", "test")
	if code != 2 || !strings.Contains(errs, "no alert rules are configured") {
		t.Errorf("alerts test without alerts: exit %d, %s", code, errs)
	}
	withAlerts := base + fmt.Sprintf("alerts:\n  destinations:\n    script: {exec: {command: [%s]}}\n  rules:\n    all: {on: failed, to: script}\n", script)
	if err := os.WriteFile(s.config, []byte(withAlerts), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := s.run("reload", "--dry-run"); code != 0 {
		t.Fatalf("reload --dry-run: exit %d: %s", code, errs)
	}
	if _, errs, code := s.run("alerts", "test"); code != 2 {
		t.Errorf("alerts test after a dry run: exit %d, %s", code, errs)
	}
	if _, errs, code := s.run("reload"); code != 0 {
		t.Fatalf("reload: exit %d: %s", code, errs)
	}
	out, errs, code := s.run("alerts", "test", "all")
	if code != 0 || !strings.Contains(out, "all   script       exec  ok") {
		t.Errorf("alerts test after the reload: exit %d\n%s%s", code, out, errs)
	}
	if got := readFile(t, seen); !strings.Contains(got, `"trigger":"test"`) {
		t.Errorf("the script got %q", got)
	}
}

// smtpReceiver runs internal/alerts' aiosmtpd script without TLS or auth
// and returns its address and the directory each message lands in (N.eml).
func smtpReceiver(t *testing.T) (addr, outDir string) {
	t.Helper()
	py := ""
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import aiosmtpd").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		t.Skip("no python3 with aiosmtpd (Debian: apt-get install python3-aiosmtpd)")
	}
	outDir = t.TempDir()
	cmd := exec.Command(py, "../../internal/alerts/testdata/smtpd.py", "plain", "plain", outDir, "-", "-")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	port, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("smtpd.py printed no port: %v", err)
	}
	return "127.0.0.1:" + strings.TrimSpace(port), outDir
}

// mails reads the messages the SMTP receiver got, in order.
func mails(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for i := 0; ; i++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d.eml", i)))
		if err != nil {
			return out
		}
		out = append(out, string(b))
	}
}

// A service that crash-loops until its start limit puts it in failed gives
// one failed alert; fixed and started, one recovery. Both reach a signed
// webhook and a real SMTP server, and nothing else does.
func TestAlertsFailedThenRecoveredToWebhookAndMail(t *testing.T) {
	t.Parallel()
	hook := newHookServer(t, "m4il-k3y")
	smtpAddr, inbox := smtpReceiver(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "hook.secret")
	if err := os.WriteFile(secret, []byte("m4il-k3y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fixed := filepath.Join(dir, "fixed")
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  flaky:
    command: ["sh", "-c", "if [ -e %s ]; then exec sleep 1000; fi; exit 1"]
    restart:
      backoff: {initial: 10ms, max: 20ms, factor: 2, jitter: 0}
      limit: {burst: 3, window: 1m}
alerts:
  destinations:
    hook:
      webhook: {url: "%s/alerts", secret_file: %s, timeout: 5s, retries: 2, backoff: 100ms}
    mail:
      email: {server: "%s", starttls: false, from: "respawn <respawn@test>", to: [ops@test], timeout: 10s}
  rules:
    down:
      on: [failed, recovered]
      to: [hook, mail]
      stable: 1s
`, fixed, hook.URL, secret, smtpAddr))

	s.waitFor("flaky", "failed", func(x api.Service) bool { return x.State == "failed" })
	waitUntil(t, "the failed alert at both", func() bool {
		return count(hook.triggers(), "failed flaky") > 0 && len(mails(t, inbox)) > 0
	})
	if err := os.WriteFile(fixed, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := s.run("start", "flaky"); code != 0 {
		t.Fatalf("start flaky: exit %d: %s", code, errs)
	}
	s.waitFor("flaky", "running", func(x api.Service) bool { return x.State == "running" })
	waitUntil(t, "the recovery at both", func() bool {
		return count(hook.triggers(), "recovered flaky") > 0 && len(mails(t, inbox)) > 1
	})
	// Every attempt is recorded: once the journal has all four sends, the
	// receivers must hold exactly those.
	var sent []string
	waitUntil(t, "four alerts sent in the journal", func() bool {
		sent = nil
		for _, e := range s.journalEvents() {
			if e.Type == api.EventAlert && e.Service == "flaky" {
				sent = append(sent, e.Reason)
			}
		}
		return len(sent) >= 4
	})
	if len(sent) != 4 || count(sent, "alert sent") != 4 {
		t.Errorf("journal alerts for flaky: %q, want 2 alerts × 2 destinations, all sent", sent)
	}
	if got := hook.triggers(); strings.Join(got, ",") != "failed flaky,recovered flaky" {
		t.Errorf("webhook got %q, want one failed, then one recovered", got)
	}
	got := mails(t, inbox)
	if len(got) != 2 {
		t.Fatalf("SMTP got %d messages, want 2:\n%s", len(got), strings.Join(got, "\n----\n"))
	}
	for i, want := range []string{"Subject: [respawn] failed flaky: ", "Subject: [respawn] recovered flaky: "} {
		if !strings.Contains(got[i], want) || !strings.Contains(got[i], "X-Rcpt-To: ops@test") {
			t.Errorf("mail %d lacks %q:\n%s", i, want, got[i])
		}
	}
	t.Logf("webhook: %q; mail subjects: %q, %q", hook.triggers(), subject(got[0]), subject(got[1]))
}

func subject(mail string) string {
	for _, l := range strings.Split(mail, "\n") {
		if strings.HasPrefix(l, "Subject: ") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// While a webhook hangs on an alert, 100 kill -9 of the service respawn it
// as fast as with no alerts at all: the gap from each exit to the next
// spawn, as the journal records both, has a p99 within 10ms. (100, so that
// the p99 is not the maximum: one stall of a loaded machine is allowed.)
func TestAlertsHangingWebhookRespawnGapP99(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var calls atomic.Int64
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select { // 10m: never, within the test
		case <-release:
		case <-r.Context().Done():
		case <-time.After(10 * time.Minute):
		}
	}))
	defer hang.Close()
	defer close(release)
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  victim:
    command: sleep %s
    restart:
      backoff: {initial: 0, max: 0, jitter: 0}
      limit: {burst: 0}
alerts:
  destinations:
    stuck: {webhook: {url: "%s", timeout: 10m, retries: 0}}
  rules:
    loops: {on: crash_loop, to: stuck, crash_loop: {restarts: 2, window: 1m}}
`, marker(t), hang.URL))
	kill := func() {
		before := s.waitFor("victim", "running", func(x api.Service) bool { return x.State == "running" && x.Pid > 0 })
		if err := syscall.Kill(before.Pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		s.waitNewPid("victim", before.Pid)
	}
	kill()
	kill() // the crash loop: its alert now hangs at the webhook
	waitUntil(t, "the webhook is called", func() bool { return calls.Load() > 0 })
	hungFrom := time.Now()
	const kills = 100
	for range kills {
		kill()
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("webhook called %d times, want the one hanging call", n)
	}

	// Each exit from hungFrom on, and the first event after it that names
	// another pid of victim: its spawn.
	var gaps []time.Duration
	events := s.journalEvents()
	for i, e := range events {
		if e.Type != api.EventExit || e.Service != "victim" || e.Time.Before(hungFrom) {
			continue
		}
		for _, n := range events[i+1:] {
			if n.Service == "victim" && n.Pid > 0 && n.Pid != e.Pid {
				gaps = append(gaps, n.Time.Sub(e.Time))
				break
			}
		}
	}
	if len(gaps) != kills {
		t.Fatalf("%d exit → spawn gaps in the journal, want %d", len(gaps), kills)
	}
	for _, e := range events {
		if e.Type == api.EventAlert {
			t.Errorf("an alert attempt ended while the webhook hung: %+v", e)
		}
	}
	slices.Sort(gaps)
	p50, p99 := gaps[len(gaps)/2], gaps[(len(gaps)*99+99)/100-1]
	// The race detector slows the core 5 to 10 times over, and a loaded
	// machine (2 CPUs, the parallel tests) adds stalls of tens of ms: there
	// the bound is one that still shows no alert is waited for, 6,000 times
	// under the webhook's 10m. (10m, not less: on a loaded machine a kill and
	// the wait for its respawn take about 0.6 s, and the 100 of them outlasted
	// a 60 s timeout.)
	limit := 10 * time.Millisecond
	if raceEnabled {
		limit = 100 * time.Millisecond
	}
	t.Logf("%d kill -9 while the webhook hung: exit → spawn p50 %s, p99 %s, max %s (bound %s, race %v)",
		kills, p50, p99, gaps[len(gaps)-1], limit, raceEnabled)
	if p99 > limit {
		t.Errorf("exit → spawn p99 %s, want ≤ %s; gaps %v", p99, limit, gaps)
	}
}
