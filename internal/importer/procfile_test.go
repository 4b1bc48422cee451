package importer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestProcfileRailsWithEnvFile(t *testing.T) {
	// The config goes beside the Procfile, as `respawn import procfile
	// Procfile -o respawn.yaml` puts it.
	out := t.TempDir()
	for _, name := range []string{"Procfile", ".env"} {
		data, err := os.ReadFile(filepath.Join("testdata/procfile/rails", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Procfile(filepath.Join(out, "Procfile"), ProcfileOptions{Formation: "web=1,worker=2,release=0", OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseAt(filepath.Join(out, "respawn.yaml"), res)
	if err != nil {
		t.Fatalf("%v\n%s", err, res.YAML)
	}
	if got, want := names(cfg), []string{"web", "worker.1", "worker.2", "release", "assets"}; !slices.Equal(got, want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	web := svc(t, cfg, "web")
	if want := []string{"sh", "-c", "bundle exec puma -C config/puma.rb -p $PORT"}; !slices.Equal(web.Command, want) || web.Cwd != out {
		t.Errorf("web command %q cwd %q", web.Command, web.Cwd)
	}
	for _, kv := range []string{"PORT=5000", "PS=web.1", "RAILS_ENV=development", "DATABASE_URL=postgres://localhost/app_development", "SECRET_KEY_BASE=${NOT_EXPANDED}"} {
		if !envHas(web, kv) {
			t.Errorf("web env %v lacks %s", web.Env, kv)
		}
	}
	for i, name := range []string{"worker.1", "worker.2"} {
		w := svc(t, cfg, name)
		if !envHas(w, "PS=worker."+string(rune('1'+i))) || !strings.Contains(w.Command[2], "PORT=$((5100 + RESPAWN_INSTANCE - 1))") {
			t.Errorf("%s env %v command %q", name, w.Env, w.Command)
		}
	}
	if r := svc(t, cfg, "release"); r.Autostart || !envHas(r, "PORT=5200") {
		t.Errorf("release autostart %v env %v", r.Autostart, r.Env)
	}
	if a := svc(t, cfg, "assets"); !envHas(a, "PORT=5300") || a.Stop.Timeout.String() != "5s" {
		t.Errorf("assets env %v stop %+v", a.Env, a.Stop)
	}
	if !strings.Contains(string(res.YAML), "env_file: \".env\"\n") || !strings.Contains(string(res.YAML), "cwd: \".\"\n") {
		t.Errorf("the .env is not the env_file:\n%s", res.YAML)
	}
	noted(t, res, "", `Procfile line 6 "this line is not a process"`)
	noted(t, res, "Procfile", "foreman and honcho stop every process")
	noted(t, res, "release", "formation release=0")
}

// TestProcfileEnvReadDifferently: a .env that respawn would read otherwise
// is carried as env, with foreman's values.
func TestProcfileEnvReadDifferently(t *testing.T) {
	res, err := Procfile("testdata/procfile/escaped/Procfile", ProcfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := parse(t, res, nil)
	web := svc(t, cfg, "web")
	if abs, _ := filepath.Abs("testdata/procfile/escaped"); web.Cwd != abs {
		t.Errorf("cwd %q, want %s: without -o, paths are absolute", web.Cwd, abs)
	}
	// .env's PORT is foreman's base port; export lines foreman skips.
	for _, kv := range []string{"PORT=8000", "MESSAGE=line one\nand \"quoted\""} {
		if !envHas(web, kv) {
			t.Errorf("web env %v lacks %s", web.Env, kv)
		}
	}
	if envHas(web, "DEBUG=1") || strings.Contains(string(res.YAML), "env_file:") {
		t.Errorf("export line carried or env_file kept:\n%s", res.YAML)
	}
	noted(t, res, "", ".env as a file")

	res, err = Procfile("testdata/procfile/escaped/Procfile", ProcfileOptions{PortBase: 6000})
	if err != nil {
		t.Fatal(err)
	}
	if web := svc(t, parse(t, res, nil), "web"); !envHas(web, "PORT=6000") {
		t.Errorf("--port-base 6000: env %v", web.Env)
	}
}

func TestProcfileRefusals(t *testing.T) {
	for name, c := range map[string]struct{ procfile, formation string }{
		"empty":                   {"# nothing\n", ""},
		"repeated type":           {"web: a\nweb: b\n", ""},
		"formation of a stranger": {"web: a\n", "db=1"},
		"formation not a number":  {"web: a\n", "web=two"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := write(t, map[string]string{"Procfile": c.procfile})
			if res, err := Procfile(filepath.Join(dir, "Procfile"), ProcfileOptions{Formation: c.formation}); err == nil {
				t.Errorf("accepted:\n%s", res.YAML)
			}
		})
	}
}
