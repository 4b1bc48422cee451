package exporter

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/respawn-sh/respawn/internal/config"
)

// load reads a config file as `respawn export` does, with an empty environment.
func load(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// loadText writes a config and loads it.
func loadText(t *testing.T, text string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return load(t, path)
}

const webapp = "../../examples/webapp.yaml"

const full = "testdata/full.yaml"

// file returns the named file of a result, failing the test without it.
func file(t *testing.T, r Result, name string) string {
	t.Helper()
	for _, f := range r.Files {
		if f.Name == name {
			return string(f.Data)
		}
	}
	var names []string
	for _, f := range r.Files {
		names = append(names, f.Name)
	}
	t.Fatalf("no file %s among %q", name, names)
	return ""
}

// hasLines fails the test for each want that is not a whole line of text.
func hasLines(t *testing.T, what, text string, want ...string) {
	t.Helper()
	lines := strings.Split(text, "\n")
	for _, w := range want {
		found := false
		for _, l := range lines {
			if l == w {
				found = true
			}
		}
		if !found {
			t.Errorf("%s lacks the line %q:\n%s", what, w, text)
		}
	}
}

// noted fails the test unless a note of the service names the key among
// its keys: "SERVICE: KEY[, KEY...]: why".
func noted(t *testing.T, r Result, service, key string) {
	t.Helper()
	for _, n := range r.Notes {
		rest, ok := strings.CutPrefix(n, service+": ")
		keys, _, _ := strings.Cut(rest, ": ")
		if ok && slices.Contains(strings.Split(keys, ", "), key) {
			return
		}
	}
	t.Errorf("no note names %s's %s; notes:\n%s", service, key, strings.Join(r.Notes, "\n"))
}
