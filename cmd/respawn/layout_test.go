package main

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/respawn-sh/respawn/internal/"

// forbidden says which internal packages a package must never depend on,
// directly or not. The pure layers depend on nothing internal; the CLI reaches
// the supervisor only through the client and the wire types.
var forbidden = map[string][]string{
	"policy":  {"*"},
	"config":  {"*"},
	"api":     {"*"},
	"version": {"*"},
	"cli":     {"supervisor", "service", "proc", "logs", "daemon", "server"},
	"client":  {"supervisor", "service", "proc", "logs", "daemon", "server", "config"},
	"service": {"supervisor", "server", "cli", "daemon", "config"},
	"proc":    {"*"},
	"logs":    {"*"},
	// The state dir's checks stand alone, so every layer that opens a
	// state file can use them.
	"statedir": {"*"},
	"journal":  {"supervisor", "service", "proc", "logs", "daemon", "server", "cli", "client", "config", "policy"},
	"metrics":  {"supervisor", "service", "proc", "logs", "daemon", "server", "cli", "client", "config", "policy"},
	// The keeper outlives every core: it holds nothing that parses YAML or
	// serves HTTP (while no core runs it writes one fixed answer on the
	// control socket), only the process and capture layers.
	"keeper": {"supervisor", "service", "daemon", "server", "cli", "client", "config", "policy", "journal", "metrics", "health", "api", "bootinstall", "sdnotify"},
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-json", "../../internal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		name, ok := strings.CutPrefix(p.ImportPath, mod)
		if !ok {
			continue
		}
		bans, ok := forbidden[name]
		if !ok {
			continue
		}
		checked++
		for _, d := range p.Deps {
			dep, ok := strings.CutPrefix(d, mod)
			if !ok {
				continue
			}
			if slices.Contains(bans, "*") || slices.Contains(bans, dep) {
				t.Errorf("%s depends on %s", name, dep)
			}
		}
	}
	if checked != len(forbidden) {
		t.Errorf("checked %d packages, the rules name %d", checked, len(forbidden))
	}
}
