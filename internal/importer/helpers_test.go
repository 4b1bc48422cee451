package importer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/respawn-sh/respawn/internal/config"
)

// parse checks that respawn accepts res, with env as the environment, and
// returns what it loaded.
func parse(t *testing.T, res *Result, env map[string]string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("imported.yaml", res.YAML, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatalf("respawn rejects the import: %v\n%s", err, res.YAML)
	}
	return cfg
}

// noted checks that a note starts with origin and key, and that the YAML
// carries its text as a comment.
func noted(t *testing.T, res *Result, origin, key string) {
	t.Helper()
	prefix := origin + ": " + key
	if origin == "" {
		prefix = key
	}
	for _, n := range res.Notes {
		if !strings.HasPrefix(n, prefix) {
			continue
		}
		text := strings.TrimPrefix(n, origin+": ")
		if !strings.Contains(string(res.YAML), "# "+text) && !strings.Contains(string(res.YAML), "; "+text) {
			t.Errorf("note %q is not a comment in the YAML:\n%s", n, res.YAML)
		}
		return
	}
	t.Errorf("no note names %q; notes:\n%s", prefix, strings.Join(res.Notes, "\n"))
}

// parseAt loads res as if written at path, with an empty environment.
func parseAt(path string, res *Result) (*config.Config, error) {
	return config.Parse(path, res.YAML, func(string) (string, bool) { return "", false })
}

func names(cfg *config.Config) []string {
	var out []string
	for _, s := range cfg.Services {
		out = append(out, s.Name)
	}
	return out
}

func svc(t *testing.T, cfg *config.Config, name string) *config.Service {
	t.Helper()
	s := cfg.Service(name)
	if s == nil {
		t.Fatalf("no service %s in %v", name, names(cfg))
	}
	return s
}

func envHas(s *config.Service, kv string) bool { return slices.Contains(s.Env, kv) }

// write puts files (name → content) into a fresh directory and returns it.
func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
