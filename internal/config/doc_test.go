package config

import (
	"os"
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
		api.Restart.Backoff.Max != time.Minute || api.Logs.MaxSize != 50_000_000 {
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
