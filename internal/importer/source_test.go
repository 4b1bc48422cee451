package importer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A source larger than any config is refused before it is parsed, by every
// importer.
func TestSourcesAreBounded(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("# a comment line that goes on and on\n", maxSource/36+1)
	for _, c := range []struct {
		name string
		run  func(path string) error
	}{
		{"supervisord.conf", func(p string) error { _, err := Supervisord(p); return err }},
		{"Procfile", func(p string) error { _, err := Procfile(p, ProcfileOptions{}); return err }},
		{"process-compose.yaml", func(p string) error { _, err := ProcessCompose(p); return err }},
		{"ecosystem.json", func(p string) error { _, err := PM2(p); return err }},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, []byte(big), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := c.run(path); err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
			t.Errorf("%s of %d bytes: %v, want it refused as too large", c.name, len(big), err)
		}
	}
}
