package exporter

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

// composeConfig runs `docker-compose config` on the file, which checks it
// against the compose schema without a docker daemon.
func composeConfig(t *testing.T, r Result) {
	t.Helper()
	dc, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatalf("docker-compose not found (install the Debian package \"docker-compose\"): %v", err)
	}
	if len(r.Files) != 1 {
		t.Fatalf("%d files, want 1", len(r.Files))
	}
	p := filepath.Join(t.TempDir(), r.Files[0].Name)
	if err := os.WriteFile(p, r.Files[0].Data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(dc, "-f", p, "config", "-q").CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("docker-compose config: %v\n%s\nfile:\n%s", err, out, r.Files[0].Data)
	}
}

// composeServices decodes the file's services.
func composeServices(t *testing.T, r Result) map[string]map[string]any {
	t.Helper()
	var doc struct {
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(r.Files[0].Data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Services
}

// at walks a decoded document along keys.
func at(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func expect(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: %#v, want %#v", what, got, want)
	}
}

func TestComposeWebapp(t *testing.T) {
	t.Parallel()
	r, err := Compose(load(t, webapp), Options{Image: "example/webapp:1"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Files[0].Name != "webapp.compose.yaml" {
		t.Errorf("file %s", r.Files[0].Name)
	}
	svc := composeServices(t, r)
	if len(svc) != 4 {
		t.Errorf("services %v, want db, migrate, api, worker", reflect.ValueOf(svc).MapKeys())
	}
	api := svc["api"]
	expect(t, "api image", api["image"], "example/webapp:1")
	expect(t, "api command", api["command"], []any{"go", "run", "./demo/web", "-listen", "127.0.0.1:8090"})
	expect(t, "api env", api["environment"], map[string]any{"GREETING": "hello from the api"})
	expect(t, "api on db", at(api, "depends_on", "db", "condition"), "service_healthy")
	expect(t, "api on migrate", at(api, "depends_on", "migrate", "condition"), "service_completed_successfully")
	expect(t, "api healthcheck", at(api, "healthcheck", "test"), []any{"CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8090/"})
	expect(t, "api healthcheck interval", at(api, "healthcheck", "interval"), "200ms")
	expect(t, "api healthcheck retries", at(api, "healthcheck", "retries"), 600)
	expect(t, "api restart", api["restart"], "always")
	expect(t, "api stop_grace_period", api["stop_grace_period"], "5s")
	expect(t, "api stop_signal", api["stop_signal"], "SIGTERM")
	expect(t, "db healthcheck", at(svc["db"], "healthcheck", "test"), []any{"CMD", "nc", "-z", "127.0.0.1", "5439"})
	expect(t, "migrate restart", svc["migrate"]["restart"], "on-failure")
	expect(t, "worker replicas", at(svc["worker"], "deploy", "replicas"), 2)
	expect(t, "worker env", svc["worker"]["environment"], nil)
	expect(t, "worker on api", at(svc["worker"], "depends_on", "api", "condition"), "service_healthy")
	noted(t, r, "api", "depends_on.db.restart")
	noted(t, r, "api", "health.http")
	noted(t, r, "worker.1", "replicas")
	composeConfig(t, r)
}

func TestComposeEveryFeature(t *testing.T) {
	t.Parallel()
	r, err := Compose(load(t, full), Options{Image: "example/full"})
	if err != nil {
		t.Fatal(err)
	}
	svc := composeServices(t, r)
	if _, ok := svc["nginx"]; ok {
		t.Error("an external service became a compose service")
	}
	db := svc["db"]
	expect(t, "db mem_limit", db["mem_limit"], 268435456)
	expect(t, "db ulimits", at(db, "ulimits", "nofile"), map[string]any{"soft": 4096, "hard": 4096})
	expect(t, "db stop_signal", db["stop_signal"], "SIGINT")
	expect(t, "db stop_grace_period", db["stop_grace_period"], "20s")
	expect(t, "db retries", at(db, "healthcheck", "retries"), 15)
	expect(t, "db logging", at(db, "logging", "options"), map[string]any{"max-size": "10000000", "max-file": "5"})
	expect(t, "api user", svc["api"]["user"], "daemon:daemon")
	expect(t, "api env", svc["api"]["environment"], map[string]any{"FROM_FILE": "yes", "PORT": "8080", "PRICE": "100% of $$5", "SHELLISH": "$$(date) $${HOME}"})
	expect(t, "migrate on db", at(svc["migrate"], "depends_on", "db", "condition"), "service_healthy")
	expect(t, "notifier healthcheck", svc["notifier"]["healthcheck"], nil)
	expect(t, "tailer profiles", svc["tailer"]["profiles"], []any{"manual"})
	expect(t, "tailer restart", svc["tailer"]["restart"], "on-failure")
	expect(t, "nightly profiles", svc["nightly"]["profiles"], []any{"scheduled"})
	expect(t, "worker replicas", at(svc["worker"], "deploy", "replicas"), 3)
	expect(t, "proxy depends_on", svc["proxy"]["depends_on"], nil)
	noted(t, r, "nginx", "kind")
	noted(t, r, "proxy", "depends_on.nginx")
	noted(t, r, "legacy", "kind")
	noted(t, r, "legacy", "stop.command")
	noted(t, r, "nightly", "schedule")
	noted(t, r, "tailer", "ready.log")
	noted(t, r, "notifier", "health.notify")
	composeConfig(t, r)
}

func TestComposeNeedsAnImage(t *testing.T) {
	t.Parallel()
	if _, err := Compose(load(t, webapp), DefaultOptions()); err == nil {
		t.Error("compose without an image: no error")
	}
}
