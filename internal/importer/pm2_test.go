package importer

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/config"
)

func TestPM2EcosystemJSON(t *testing.T) {
	res, err := PM2("testdata/pm2/ecosystem.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg := parse(t, res, nil)
	if got, want := names(cfg), []string{"api.1", "api.2", "api.3", "api.4", "worker", "thumbnailer"}; !slices.Equal(got, want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	api := svc(t, cfg, "api.2")
	if want := []string{"node", "--max-old-space-size=512", "./dist/server.js", "--port", "3000", "--host", "127.0.0.1"}; !slices.Equal(api.Command, want) || api.Cwd != "/srv/api" {
		t.Errorf("api command %q cwd %q", api.Command, api.Cwd)
	}
	for _, kv := range []string{"NODE_ENV=production", "PORT=3000", "DEBUG=false"} {
		if !envHas(api, kv) {
			t.Errorf("api env %v lacks %s", api.Env, kv)
		}
	}
	b := api.Restart.Backoff
	if b.Initial != 100*time.Millisecond || b.Factor != 1.5 || b.Max != 15*time.Second || api.Restart.Limit.Burst != 17 {
		t.Errorf("api restart %+v", api.Restart)
	}
	if api.Health == nil || api.Health.MemoryMax != 300<<20 || api.Stop.Timeout != 5*time.Second {
		t.Errorf("api health %+v stop %+v", api.Health, api.Stop)
	}
	w := svc(t, cfg, "worker")
	dir, _ := filepath.Abs("testdata/pm2")
	if want := []string{"python3", "-u", "worker.py", "--queue", "default"}; !slices.Equal(w.Command, want) || w.Cwd != dir {
		t.Errorf("worker command %q cwd %q", w.Command, w.Cwd)
	}
	if w.Restart.Policy != config.RestartOnFailure || !slices.Equal(w.Restart.SuccessCodes, []int{0}) || w.Restart.Backoff.Initial != 3*time.Second || w.Restart.Backoff.Factor != 1 || w.Restart.Limit.Burst != 11 {
		t.Errorf("worker restart %+v", w.Restart)
	}
	th := svc(t, cfg, "thumbnailer")
	if !slices.Equal(th.Command, []string{"/usr/local/bin/thumbnailer"}) || th.User != "media" || th.Restart.Policy != config.RestartNever {
		t.Errorf("thumbnailer %q user %q restart %+v", th.Command, th.User, th.Restart)
	}
	for _, n := range [][2]string{
		{"api", "env_staging"}, {"api", "out_file"}, {"api", "error_file"}, {"api", "merge_logs"}, {"api", "log_date_format"},
		{"api", "instances"}, {"worker", "cron_restart"}, {"worker", "watch"}, {"worker", "ignore_watch"}, {"worker", "max_restarts=10"},
	} {
		noted(t, res, n[0], n[1])
	}
	if !strings.Contains(string(res.YAML), "cluster mode shares one port") {
		t.Errorf("cluster mode not noted:\n%s", res.YAML)
	}
}

func TestPM2EcosystemJSReadByNode(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("no node")
	}
	res, err := PM2("testdata/pm2/ecosystem.config.js")
	if err != nil {
		t.Fatal(err)
	}
	cfg := parse(t, res, nil)
	web := svc(t, cfg, "web.1")
	if !slices.Equal(web.Command, []string{"node", "app.js"}) || !envHas(web, "GREETING=hello") || web.Health == nil || web.Health.MemoryMax != 1<<30 {
		t.Errorf("web %q env %v health %+v", web.Command, web.Env, web.Health)
	}
}

func TestPM2EcosystemJSWithoutNode(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := PM2("testdata/pm2/ecosystem.config.js")
	if err == nil || !strings.Contains(err.Error(), "node is not on PATH") || !strings.Contains(err.Error(), "JSON") {
		t.Errorf("err %v, want one saying node is needed, or JSON", err)
	}
}

// TestPM2NamesEveryUnmappedKey feeds every app key pm2 knows that respawn
// has no counterpart for, an env_ block, and a key pm2 does not know.
func TestPM2NamesEveryUnmappedKey(t *testing.T) {
	var b strings.Builder
	b.WriteString(`[{"name": "p", "script": "/bin/sleep", "args": "1", "env_production": {"A": "1"}, "frobnicate": 1`)
	for k := range pm2Unmapped.Get() {
		b.WriteString(`, "` + k + `": "x"`)
	}
	b.WriteString("}]")
	dir := write(t, map[string]string{"ecosystem.json": b.String()})
	res, err := PM2(filepath.Join(dir, "ecosystem.json"))
	if err != nil {
		t.Fatal(err)
	}
	parse(t, res, nil)
	for k := range pm2Unmapped.Get() {
		noted(t, res, "p", k)
	}
	noted(t, res, "p", "env_production")
	noted(t, res, "p", "frobnicate")
}

func TestPM2Refusals(t *testing.T) {
	for name, j := range map[string]string{
		"no apps":          `{"apps": []}`,
		"no script":        `{"apps": [{"name": "a"}]}`,
		"bad instances":    `{"apps": [{"script": "a", "instances": "many"}]}`,
		"bad memory":       `{"apps": [{"script": "a", "max_memory_restart": "lots"}]}`,
		"gid without user": `{"apps": [{"script": "a", "gid": 10}]}`,
		"not json":         `{"apps": [`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := write(t, map[string]string{"e.json": j})
			if res, err := PM2(filepath.Join(dir, "e.json")); err == nil {
				t.Errorf("accepted:\n%s", res.YAML)
			}
		})
	}
}
