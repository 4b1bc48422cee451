package cli

import "testing"

// Every command said to start no process exists, and those that start one
// (up and the hidden ones a supervisor runs) are not among them.
func TestForksNothingNamesCommands(t *testing.T) {
	root := newRoot(&Env{})
	for name := range talkers {
		cmd, _, err := root.Find([]string{name})
		if err != nil || cmd == root || cmd.Name() != name {
			t.Errorf("%s: not a command (%v)", name, err)
		}
	}
	for _, args := range [][]string{{"up"}, {"up", "-d"}, {"__core"}, {"-c", "x.yaml", "status"}, {}, {"install"}, {"import"}} {
		if ForksNothing(args) {
			t.Errorf("ForksNothing(%q) = true", args)
		}
	}
	if !ForksNothing([]string{"status", "web"}) {
		t.Error("status: ForksNothing false")
	}
}
