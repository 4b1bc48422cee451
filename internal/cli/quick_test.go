package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/instance"
	"github.com/respawn-sh/respawn/internal/proc/observe"
	"github.com/respawn-sh/respawn/internal/statedir"
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

// plainStateDir reads state_dir only where the parser reads the same; any
// other spelling, or a line that is not the supervisor's own key, gives up.
func TestPlainStateDirAgreesWithTheParser(t *testing.T) {
	const svc = "services:\n  web: {command: [sleep, '1']}\n"
	dir := t.TempDir()
	path := filepath.Join(dir, "r.yaml")
	for name, tc := range map[string]struct {
		sup  string
		want string // "" when plainStateDir must give up
	}{
		"absolute":           {"supervisor:\n  state_dir: /tmp/x\n", "/tmp/x"},
		"relative":           {"supervisor:\n  state_dir: st/a\n", "st/a"},
		"comment after":      {"supervisor:\n  state_dir: /tmp/x # here\n", "/tmp/x"},
		"double quoted":      {"supervisor:\n  state_dir: \"/tmp/x y\"\n", "/tmp/x y"},
		"single quoted":      {"supervisor:\n  state_dir: '/tmp/x'  # c\n", "/tmp/x"},
		"among other keys":   {"supervisor:\n  log:\n    level: warn\n\n  # the dir\n  state_dir: /tmp/x\n  core_timeout: 10s\n", "/tmp/x"},
		"four spaces":        {"supervisor:\n    state_dir: /tmp/x\n", "/tmp/x"},
		"flow":               {"supervisor: {state_dir: /tmp/x}\n", ""},
		"quoted key":         {"supervisor:\n  \"state_dir\": /tmp/x\n", ""},
		"through a merge":    {"x-s: &s {state_dir: /tmp/x}\nsupervisor: {<<: *s}\n", ""},
		"anchored section":   {"supervisor: &s\n  state_dir: /tmp/x\n", ""},
		"escape elsewhere":   {"supervisor:\n  state_dir: /tmp/x\n  log: {level: \"\\x77arn\"}\n", ""},
		"escaped value":      {"supervisor:\n  state_dir: \"/tmp/\\x78\"\n", ""},
		"from the env":       {"supervisor:\n  state_dir: ${D:-/tmp/x}\n", ""},
		"value on next line": {"supervisor:\n  state_dir:\n    /tmp/x\n", ""},
		"value carried on":   {"supervisor:\n  state_dir: /tmp/x\n    /y\n", ""},
		"tag":                {"supervisor:\n  state_dir: !!str /tmp/x\n", ""},
		"alias":              {"x-d: &d /tmp/x\nsupervisor:\n  state_dir: *d\n", ""},
		"block scalar":       {"supervisor:\n  state_dir: |\n    /tmp/x\n", ""},
	} {
		data := []byte("version: 1\n" + tc.sup + svc)
		got, ok := plainStateDir(data)
		if !ok {
			if tc.want != "" {
				t.Errorf("%s: gave up, want %q", name, tc.want)
			}
			continue
		}
		if tc.want == "" {
			t.Errorf("%s: read %q, want it to give up", name, got)
			continue
		}
		cfg, err := config.Parse(path, data, nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		abs := got
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(dir, abs)
		}
		if got != tc.want || cfg.Supervisor.StateDir != abs {
			t.Errorf("%s: read %q (%s), want %q; the parser says %s", name, got, abs, tc.want, cfg.Supervisor.StateDir)
		}
	}
	// Text that only looks like it: state_dir under another section, or in a
	// deeper mapping of the supervisor's.
	for name, text := range map[string]string{
		"another section": "version: 1\nx-notes:\n  state_dir: /tmp/x\n" + svc,
		"deeper":          "version: 1\nsupervisor:\n  log:\n    state_dir: /tmp/x\n" + svc,
		"in a command":    "version: 1\nservices:\n  web:\n    command: |\n      echo\n      state_dir: /tmp/x\n",
	} {
		if got, ok := plainStateDir([]byte(text)); ok {
			t.Errorf("%s: read %q, want it to give up", name, got)
		}
	}
}

// A config that sets state_dir plainly reaches its running supervisor without
// the parser, and only the one that runs this very file.
func TestQuickClientFindsTheStateDirTheConfigSets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.yaml")
	if err := os.WriteFile(path, []byte("version: 1\nsupervisor:\n  state_dir: st\nservices:\n  web: {command: [sleep, '1']}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &globals{env: &Env{}, config: path}
	if c := g.quickClient(); c != nil {
		t.Fatal("a client with no supervisor running")
	}
	sd, err := statedir.Open(filepath.Join(dir, "st"))
	if err != nil {
		t.Fatal(err)
	}
	defer sd.Close()
	var start uint64
	if st, err := observe.Of(os.Getpid()); err == nil {
		start = st.Start
	}
	lock, err := instance.Acquire(sd, path, start)
	if err != nil {
		t.Fatal(err)
	}
	c := g.quickClient()
	if c == nil {
		t.Fatal("no quick client while a supervisor of this file holds its state dir")
	}
	if pid, holder, running := c.Holder(); !running || pid != os.Getpid() || holder != path {
		t.Errorf("the quick client's supervisor: pid %d, config %s, running %v", pid, holder, running)
	}
	lock.Release()
	// Another config's supervisor in that dir is not this one's.
	lock, err = instance.Acquire(sd, filepath.Join(dir, "other.yaml"), start)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if c := g.quickClient(); c != nil {
		t.Error("a quick client to the supervisor of another config")
	}
}
