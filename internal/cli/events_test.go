package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

func TestFormatEvent(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 250e6, time.UTC)
	one, zero := 1, 0
	cases := []struct {
		e    api.Event
		want string
	}{
		{api.Event{Type: api.EventState, Service: "web", From: "running", To: "backoff", Reason: "exit status 1, restart 2 in 200ms"},
			"web           running → backoff: exit status 1, restart 2 in 200ms"},
		{api.Event{Type: api.EventState, Service: "web", To: "starting"}, "→ starting"},
		{api.Event{Type: api.EventExit, Service: "web", Pid: 77, ExitCode: &one}, "pid 77 exited with code 1"},
		{api.Event{Type: api.EventExit, Service: "web", Pid: 77, Signal: "SIGKILL", OOM: true}, "pid 77 killed by SIGKILL (out of memory)"},
		{api.Event{Type: api.EventRespawn, Service: "web", Attempt: 2, DelayMS: 200}, "attempt 2, retry in 200ms"},
		{api.Event{Type: api.EventCommand, Command: "start", UID: &zero, CallerPid: 4242}, "-             start by uid 0 (pid 4242)"},
		{api.Event{Type: api.EventCommand, Command: "stop", Args: []string{"web", "db"}}, "stop web db by unknown caller"},
		{api.Event{Type: api.EventRefused, UID: &one, CallerPid: 9, Message: "uid 1 is not allowed"}, "refused uid 1 (pid 9): uid 1 is not allowed"},
		{api.Event{Type: api.EventSupervisor, Message: "started", Reason: "pid 1"}, "supervisor  -             started: pid 1"},
		{api.Event{Type: api.EventAlert, Service: "web", Reason: "alert sent", Message: "rule r, failed to hook (webhook), 1 tries in 5ms"},
			"alert       web           alert sent: rule r, failed to hook (webhook), 1 tries in 5ms"},
	}
	for _, c := range cases {
		c.e.Time = at
		got := formatEvent(c.e, time.UTC)
		if !strings.HasPrefix(got, "2024-05-01 12:00:00.250  "+c.e.Type) || !strings.HasSuffix(got, c.want) {
			t.Errorf("%+v:\n got %q\nwant suffix %q", c.e, got, c.want)
		}
	}
}

// eventsFixture is a config whose state dir holds a fake supervisor socket.
func eventsFixture(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "respawn.yaml")
	if err := os.WriteFile(cfg, []byte("version: 1\nservices:\n  a:\n    command: [\"true\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if h == nil {
		return cfg
	}
	if err := os.MkdirAll(filepath.Join(dir, ".respawn"), 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, ".respawn", "respawn.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return cfg
}

func runEventsCLI(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
		LookupEnv: func(string) (string, bool) { return "", false }}
	code = Main(args, env)
	return out.String(), errb.String(), code
}

func TestEventsCommand(t *testing.T) {
	var query string
	cfg := eventsFixture(t, func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		if r.URL.Path != api.PathEvents {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, `{"time":"2024-05-01T12:00:00Z","type":"supervisor","message":"started"}`)
		fmt.Fprintln(w, `{"time":"2024-05-01T12:00:01Z","type":"command","command":"stop","args":["a"],"uid":0,"caller_pid":42}`)
	})

	out, errs, code := runEventsCLI("events", "-o", "json", "--since", "1h", "-n", "7", "-c", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if query != "n=7&since=1h" {
		t.Errorf("query %q", query)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one JSON object per line, got %q", out)
	}
	var e api.Event
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil || e.Command != "stop" || e.UID == nil || *e.UID != 0 {
		t.Errorf("line %q: %+v %v", lines[1], e, err)
	}

	out, errs, code = runEventsCLI("events", "-c", cfg)
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, "stop a by uid 0 (pid 42)") {
		t.Errorf("table: exit %d, %q, %s", code, out, errs)
	}
}

func TestEventsCommandErrors(t *testing.T) {
	cfg := eventsFixture(t, nil)
	if _, errs, code := runEventsCLI("events", "-c", cfg); code != ExitNotRunning {
		t.Errorf("no supervisor: exit %d (%s), want %d", code, errs, ExitNotRunning)
	}
	for _, args := range [][]string{{"--since", "yesterday"}, {"--since", "-1m"}, {"-n", "-3"}, {"-o", "yaml"}, {"extra"}} {
		if _, errs, code := runEventsCLI(append([]string{"events", "-c", cfg}, args...)...); code != ExitUsage || errs == "" {
			t.Errorf("%v: exit %d (%q), want %d", args, code, errs, ExitUsage)
		}
	}
}
