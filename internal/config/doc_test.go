package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The example at the top of the reference must load as the reference says.
func TestReferenceExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	if !ok {
		t.Fatal("no yaml block in docs/config.md")
	}
	example, _, _ := strings.Cut(rest, "```")
	c, _, err := parseIn(t, example, map[string]string{"PORT": "9000"}, map[string]string{".env": "SECRET=s\n"})
	if err != nil {
		t.Fatalf("the example does not load:\n%v", err)
	}
	if got := c.Order(); !reflect.DeepEqual(got, []string{"db", "api", "migrate"}) {
		t.Errorf("Order() = %q", got)
	}
	api := c.Service("api")
	if !reflect.DeepEqual(api.Command, []string{"./api", "--port", "9000"}) ||
		!reflect.DeepEqual(api.Env, []string{"LOG_LEVEL=debug", "SECRET=s", "TZ=UTC"}) ||
		api.Restart.Backoff.Max != time.Minute || api.Logs.MaxSize != 50_000_000 || api.ServiceGroup != "web" {
		t.Errorf("api = %+v", *api)
	}
	if m := c.Service("migrate"); m.Restart.Policy != RestartOnFailure {
		t.Errorf("migrate policy = %s", m.Restart.Policy)
	}
	if r := c.Service("db").Ready; r == nil || r.TCP != "127.0.0.1:5432" {
		t.Errorf("db.Ready = %+v", r)
	}
	if r := api.Ready; r == nil || r.HTTP != "http://127.0.0.1:9000/healthz" || r.Deadline != 30*time.Second {
		t.Errorf("api.Ready = %+v", r)
	}
	if h := api.Health; h == nil || h.HTTP != "http://127.0.0.1:9000/healthz" || h.Failures != 3 || h.MemoryMax != 512_000_000 {
		t.Errorf("api.Health = %+v", h)
	}
}

// The example of the ready and health section must load, with every kind.
func TestProbeReferenceExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "### `ready` and `health`")
	if !ok {
		t.Fatal("no ready and health section in docs/config.md")
	}
	_, rest, ok := strings.Cut(section, "```yaml\n")
	if !ok {
		t.Fatal("no yaml block in the ready and health section")
	}
	example, _, _ := strings.Cut(rest, "```")
	c, _, err := parseIn(t, example, nil, nil)
	if err != nil {
		t.Fatalf("the example does not load:\n%v", err)
	}
	checks := map[string]bool{
		"db tcp":            c.Service("db").Ready.TCP == "127.0.0.1:5432",
		"db exec":           reflect.DeepEqual(c.Service("db").Health.Exec, []string{"pg_isready", "-q", "-h", "127.0.0.1"}),
		"api http":          c.Service("api").Ready.HTTP == "http://127.0.0.1:8080/healthz",
		"worker log":        c.Service("worker").Ready.Log.MatchString("listening on 8080"),
		"worker memory":     c.Service("worker").Health.MemoryMax == 1<<30,
		"daemon notify":     c.Service("daemon").Ready.Notify && c.Service("daemon").Health.Watchdog == 30*time.Second,
		"migrate no health": c.Service("migrate").Health == nil && c.Service("migrate").Ready.Exec[0] == "test",
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("%s: not as documented", name)
		}
	}
}

// The examples of the forking and external sections must load as described,
// and the errors listed after them must be what such mistakes give.
func TestKindsReferenceExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	block := func(section, fence string) string {
		_, rest, ok := strings.Cut(string(doc), section)
		if !ok {
			t.Fatalf("no %s section in docs/config.md", section)
		}
		_, rest, ok = strings.Cut(rest, fence)
		if !ok {
			t.Fatalf("no %q block in the %s section", fence, section)
		}
		text, _, _ := strings.Cut(rest, "```")
		return text
	}
	c, dir, err := parseIn(t, block("### `kind: forking`", "```yaml\n"), nil, nil)
	if err != nil {
		t.Fatalf("the forking example does not load:\n%v", err)
	}
	if l := c.Service("legacy"); l.Kind != KindForking || l.Pidfile != filepath.Join(dir, "run", "legacyd.pid") || l.Restart.Policy != RestartAlways {
		t.Errorf("legacy = %+v", *l)
	}
	c, _, err = parseIn(t, block("### `kind: external`", "```yaml\n"), nil, nil)
	if err != nil {
		t.Fatalf("the external example does not load:\n%v", err)
	}
	nginx, cron, agent := c.Service("nginx"), c.Service("cron"), c.Service("agent")
	checks := map[string]bool{
		"nginx":       nginx.Kind == KindExternal && nginx.Pidfile == "/run/nginx.pid" && len(nginx.Command) == 0,
		"nginx start": reflect.DeepEqual(nginx.Start, []string{"systemctl", "start", "nginx"}),
		"nginx stop":  reflect.DeepEqual(nginx.Stop.Command, []string{"systemctl", "stop", "nginx"}),
		"cron unit":   cron.Unit == "cron.service" && cron.Start == nil,
		"agent match": agent.Match.MatchString("/opt/agent/bin/agent --fg") && !agent.Match.MatchString("/opt/agent/bin/agent2"),
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("%s: not as documented", name)
		}
	}

	// Each documented error, from a file with that mistake.
	bad := `version: 1
services:
  x: {command: x}
  legacy: {kind: forking, command: ./legacyd}
  a: {command: a}
  b: {command: b}
  c: {command: c}
  nginx:
    kind: external
    command: nginx
    pidfile: /run/nginx.pid
  agent: {kind: external, pidfile: a, match: agent}
`
	_, dir, err = parseIn(t, bad, nil, nil)
	got := strings.Join(errorLines(err, dir), "\n")
	want := strings.TrimSpace(strings.ReplaceAll(block("### `kind: external`", "```\nrespawn.yaml"), "respawn.yaml", "r.yaml"))
	if got != "r.yaml"+want {
		t.Errorf("errors:\n%s\nwant, as documented:\nr.yaml%s", got, want)
	}
}
