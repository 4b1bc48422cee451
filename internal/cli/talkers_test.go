package cli

import (
	"bytes"
	"slices"
	"testing"
)

// Every command said to start no process exists, and those that start one
// (up and the hidden ones a supervisor runs) are not among them.
func TestForksNothingNamesCommands(t *testing.T) {
	root := newRoot(&Env{}, nil)
	for _, name := range talkerNames {
		cmd, _, err := root.Find([]string{name})
		if err != nil || cmd == root || cmd.Name() != name {
			t.Errorf("%s: not a command (%v)", name, err)
		}
	}
	for _, args := range [][]string{{"up"}, {"up", "-d"}, {"__core"}, {"-c", "x.yaml", "status"}, {}, {"install"}, {"import"}, {"help", "status"}} {
		if ForksNothing(args) {
			t.Errorf("ForksNothing(%q) = true", args)
		}
	}
	for _, name := range talkerNames {
		if !ForksNothing([]string{name, "web"}) {
			t.Errorf("%s: ForksNothing false", name)
		}
	}
}

// run runs args on root as Main would and returns what it printed.
func runOn(t *testing.T, full bool, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	env := Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }, LookupEnv: func(string) (string, bool) { return "", false }}
	tree := args
	if full {
		tree = nil
	}
	root := newRoot(&env, tree)
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	if err := root.Execute(); err != nil {
		out.WriteString("error: " + err.Error())
	}
	return out.String()
}

// A command run from the root that holds it alone says what it says from
// the whole tree: its help, and its usage errors.
func TestTalkerAloneAsInTheWholeTree(t *testing.T) {
	for _, name := range talkerNames {
		for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {name, "--no-such-flag"}, {name, "-c"}, {name, "-o", "yaml", "--help"}} {
			alone, whole := runOn(t, false, args...), runOn(t, true, args...)
			if alone != whole {
				t.Errorf("%q alone:\n%s\nin the whole tree:\n%s", args, alone, whole)
			}
		}
	}
	if !slices.Contains(talkerNames, "status") {
		t.Fatal("status is not a talker")
	}
}
