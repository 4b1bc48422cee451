package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

const mod = "github.com/respawn-sh/respawn/internal/"

// allowed says, for every internal package, which internal packages it may
// import directly. A package that is not listed fails the test: each new
// package states where it sits. Since every package's imports are bounded,
// so are its indirect ones.
var allowed = map[string][]string{
	// Pure layers and leaves: nothing internal.
	"api":         nil,
	"bearer":      nil,
	"bootinstall": nil,
	// export: from a loaded config to other engines' definitions; systemd
	// Exec lines are quoted as the boot unit's are.
	"exporter": {"bootinstall", "config", "lazy"},
	// The config parser judges a token file's token as the server does.
	"config":   {"bearer"},
	"health":   nil,
	"logs":     nil,
	"metrics":  nil,
	"policy":   nil,
	"sdnotify": nil,
	"statedir": nil,
	"version":  nil,
	// Values built on first use, not at every start of the binary.
	"lazy": nil,
	// A function called after garbage collections.
	"aftergc": nil,
	// The binary's pages a long-running process no longer runs.
	"codepages": {"aftergc"},
	// Collections paced by the live heap, none forced at rest.
	"gcpace": {"aftergc"},
	// Grows the main goroutine's stack before the other packages'
	// initialisation (imported by main alone).
	"mainstack": nil,
	// Processes: observe reads what the kernel says of any process; discover
	// finds processes respawn did not start; cleanup records what it starts
	// and kills what a crashed run left; proc spawns, reaps and contains.
	// Which of the system's facilities are in use (the POSIX path or more).
	"platform":      nil,
	"proc/observe":  {"platform"},
	"proc/discover": {"platform", "proc/observe"},
	"proc/cleanup":  {"platform", "proc/observe"},
	"proc":          {"platform", "proc/cleanup", "proc/observe"},
	// How status values read to people, shared by the CLI and top.
	"format": {"api"},
	// The state dir's lock and the up -d report, shared by the CLI, the
	// client and the supervisor.
	"instance": {"statedir"},
	"journal":  {"api", "logs"},
	// The keeper outlives every core: it holds nothing that parses YAML or
	// serves HTTP (while no core runs it writes one fixed answer on the
	// control socket), only the process and capture layers.
	"keeper":  {"codepages", "gcpace", "logs", "platform", "proc", "proc/cleanup", "proc/observe", "statedir"},
	"service": {"api", "logs", "policy", "proc"},
	"supervisor": {"api", "config", "health", "logs", "metrics", "platform", "policy", "proc", "proc/discover",
		"proc/observe", "service", "version"},
	// The API server depends on its Backend interface and the wire types.
	"server": {"api", "bearer", "logs", "platform"},
	// The CLI reaches the supervisor only through the client and the wire types.
	"client": {"api", "instance", "proc/observe"},
	// When no supervisor runs, logs and events read the files it left.
	"cli": {"api", "bootinstall", "client", "config", "exporter", "format", "gcpace", "importer", "instance", "journal", "lazy",
		"logs", "statedir", "tui", "version"},
	// Converters of other supervisors' files: text in, YAML text out.
	"importer": {"lazy"},
	// top sees the supervisor as the CLI does: through the client only.
	"tui": {"api", "client", "format"},
	// Alerts: from the loaded config and the journal's events to exec,
	// webhook and email; the core hands them the journal.
	"alerts": {"api", "config"},
	// The wiring of `up` and the core.
	"daemon": {"alerts", "api", "bearer", "codepages", "config", "gcpace", "instance", "journal", "keeper", "logs", "metrics", "platform", "proc",
		"proc/observe", "sdnotify", "server", "service", "statedir", "supervisor", "web"},
	// The dashboard: a page and its script, which reach the supervisor
	// through the API from the browser.
	"web": nil,
}

// violations lists the imports of imports (package → its direct internal
// imports) that allowed does not grant, and the packages it has no rule for.
func violations(imports map[string][]string) []string {
	var out []string
	for pkg, deps := range imports {
		ok, known := allowed[pkg]
		if !known {
			out = append(out, fmt.Sprintf("%s has no rule in allowed", pkg))
			continue
		}
		for _, d := range deps {
			if !slices.Contains(ok, d) {
				out = append(out, fmt.Sprintf("%s imports %s", pkg, d))
			}
		}
	}
	sort.Strings(out)
	return out
}

// internalImports returns each internal package's direct internal imports.
func internalImports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "../../internal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	imports := map[string][]string{}
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		name, ok := strings.CutPrefix(p.ImportPath, mod)
		if !ok {
			continue
		}
		imports[name] = []string{}
		for _, d := range p.Imports {
			if dep, ok := strings.CutPrefix(d, mod); ok {
				imports[name] = append(imports[name], dep)
			}
		}
	}
	return imports
}

func TestImportDirection(t *testing.T) {
	imports := internalImports(t)
	for _, v := range violations(imports) {
		t.Error(v)
	}
	for pkg := range allowed {
		if _, ok := imports[pkg]; !ok {
			t.Errorf("allowed has a rule for %s, which does not exist", pkg)
		}
	}
}

// TestImportRulesCatchTheKnownSlips checks that the rules fail on the
// imports that slipped in before: the supervisor's wiring reaching into the
// CLI, and the keeper taking on the config parser.
func TestImportRulesCatchTheKnownSlips(t *testing.T) {
	base := internalImports(t)
	for _, slip := range []struct{ pkg, dep string }{
		{"daemon", "cli"},
		{"keeper", "config"},
		{"client", "supervisor"},
		{"instance", "cli"},
		{"server", "supervisor"},
		{"server", "config"},
	} {
		imports := map[string][]string{}
		for k, v := range base {
			imports[k] = slices.Clone(v)
		}
		imports[slip.pkg] = append(imports[slip.pkg], slip.dep)
		want := slip.pkg + " imports " + slip.dep
		if got := violations(imports); !slices.Contains(got, want) {
			t.Errorf("with %s importing %s the rules report %q, want %q among them", slip.pkg, slip.dep, got, want)
		}
	}
	if got := violations(map[string][]string{"newpkg": nil}); len(got) != 1 {
		t.Errorf("a package with no rule: %q, want one violation", got)
	}
}
