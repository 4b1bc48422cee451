package cli

import (
	"path/filepath"
	"testing"

	"github.com/respawn-sh/respawn/internal/config"
)

// Every way a config can set supervisor.state_dir that the parser knows
// sends the CLI the long way; a config that sets none is read as using the
// default state dir, which the parser agrees with.
func TestMayNameStateDir(t *testing.T) {
	const svc = "services:\n  web: {command: [sleep, '1']}\n"
	path := filepath.Join(t.TempDir(), "r.yaml")
	for name, sup := range map[string]string{
		"plain":           "supervisor: {state_dir: /tmp/x}\n",
		"block":           "supervisor:\n  state_dir: /tmp/x\n",
		"quoted":          "supervisor: {\"state_dir\": /tmp/x}\n",
		"hex escape":      "supervisor: {\"state\\x5fdir\": /tmp/x}\n",
		"unicode escape":  "supervisor: {\"state\\u005fdir\": /tmp/x}\n",
		"long escape":     "supervisor: {\"state\\U0000005fdir\": /tmp/x}\n",
		"joined lines":    "supervisor:\n  ? \"state_\\\n    dir\"\n  : /tmp/x\n",
		"through a merge": "x-s: &s {state_dir: /tmp/x}\nsupervisor: {<<: *s}\n",
	} {
		data := []byte("version: 1\n" + sup + svc)
		cfg, err := config.Parse(path, data, nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if cfg.Supervisor.StateDir != "/tmp/x" {
			t.Errorf("%s: state dir %s, want /tmp/x (the case does not test what it says)", name, cfg.Supervisor.StateDir)
		}
		if !mayNameStateDir(data) {
			t.Errorf("%s: mayNameStateDir false", name)
		}
	}
	data := []byte("version: 1\nsupervisor: {log: {level: info}}\n" + svc)
	cfg, err := config.Parse(path, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if mayNameStateDir(data) || cfg.Supervisor.StateDir != config.DefaultStateDir(path) {
		t.Errorf("no state_dir: mayNameStateDir %v, state dir %s", mayNameStateDir(data), cfg.Supervisor.StateDir)
	}
}
