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
}
