package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// parseIn writes files (name → content) into a fresh directory and parses
// src as that directory's r.yaml, with env as the supervisor's environment.
func parseIn(t *testing.T, src string, env, files map[string]string) (*Config, string, error) {
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
	lookup := func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
	c, err := Parse(filepath.Join(dir, "r.yaml"), []byte(src), lookup)
	return c, dir, err
}

// errorLines returns the lines of err with the temporary directory cut
// out, so that expectations read "r.yaml:3:5: ...".
func errorLines(err error, dir string) []string {
	if err == nil {
		return nil
	}
	return strings.Split(strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""), "\n")
}

// svc is a service as the defaults leave it.
func svc(name string, line int, dir string, argv ...string) *Service {
	return &Service{
		Name:      name,
		Kind:      KindProcess,
		Command:   argv,
		Cwd:       dir,
		Autostart: true,
		Restart: Restart{
			Policy:       RestartAlways,
			SuccessCodes: []int{0},
			Backoff:      Backoff{Initial: 100 * time.Millisecond, Max: 30 * time.Second, Factor: 2, Jitter: 0.1},
			Limit:        Limit{Burst: 10, Window: 5 * time.Minute},
			ResetAfter:   30 * time.Second,
			Cooldown:     5 * time.Minute,
			Strategy:     StopFirst,

			MaxUnavailable: 1,
		},
		Stop:    Stop{Signal: "TERM", Timeout: 10 * time.Second},
		Logs:    Logs{MaxSize: 10_000_000, MaxFiles: 5},
		Backlog: DefaultBacklog,
		Line:    line,
	}
}

func umask(m uint32) *uint32 { return &m }
