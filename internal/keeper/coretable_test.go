package keeper

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// coreWant is the core's lifecycle written apart from coreNext, one rule a
// line: "FROM EVENT -> TO EFFECTS". FROM is a phase (or * for any) with
// conditions on the flags (+conn: open, -conn: closed; the same for
// stopping and probation); TO is a phase (or = for unchanged) with the flags
// it sets (+) or clears (-). The first rule that matches decides; a pair no
// rule matches must be ignored. A change to the table must be made here too.
const coreWant = `
starting-conn connected -> =+conn serve
* connected -> = refuse-conn
starting+conn+probation ready -> ready-probation mark-ready,upgrade-done
starting+conn ready -> ready mark-ready
starting+conn pong -> = note-pong
ready+conn pong -> = note-pong
*+conn bye -> = note-bye
starting+conn tick -> = ping
ready+conn tick -> = ping
starting+conn silent -> ending abort
ready+conn silent -> ending abort
starting start-due -> ending abort
starting+probation upgrade-due -> ending kill
exited+conn conn-gone -> down-conn drop-conn,ended
starting+conn conn-gone -> =-conn drop-conn,watch-lost
ready+conn conn-gone -> =-conn drop-conn,watch-lost
*+conn conn-gone -> =-conn drop-conn
starting-conn conn-lost -> ending kill
ready-conn conn-lost -> ending kill
starting+conn exit -> exited await-socket
ready+conn exit -> exited await-socket
ending+conn exit -> exited await-socket
quitting+conn exit -> exited await-socket
starting-conn exit -> down ended
ready-conn exit -> down ended
ending-conn exit -> down ended
quitting-conn exit -> down ended
exited exit-due -> down-conn drop-conn,ended
ending kill-due -> = kill-tree
quitting kill-due -> = kill-tree
down restart-due -> = spawn
down spawned -> starting
down+stopping spawn-failed -> = kill-all-exit
down spawn-failed -> = backoff
*+stopping stop -> = ignore-stop
*+conn stop -> =+stopping announce-stop,send-stop
down stop -> =+stopping announce-stop,cancel-restart,spawn
* stop -> =+stopping announce-stop
*-stopping stopping -> =+stopping announce-stop
* stopping -> =
ready+conn reload -> = send-reload
* reload -> = no-reload
starting+conn-stopping-probation upgrade -> = check-binary
ready+conn-stopping-probation upgrade -> = check-binary
* upgrade -> = refuse-upgrade
starting+conn-stopping-probation upgrade-checked -> quitting quit
ready+conn-stopping-probation upgrade-checked -> quitting quit
* upgrade-checked -> = refuse-upgrade
`

var flagRe = regexp.MustCompile(`([+-])(conn|stopping|probation)`)

type coreRule struct {
	line      string
	from      string // phase or *
	fromFlags map[string]bool
	event     string
	to        string // phase or =
	toFlags   map[string]bool
	effects   []string
	matched   bool
}

func flagOf(s coreState, name string) bool {
	switch name {
	case "conn":
		return s.conn
	case "stopping":
		return s.stopping
	}
	return s.probation
}

func setFlag(s *coreState, name string, on bool) {
	switch name {
	case "conn":
		s.conn = on
	case "stopping":
		s.stopping = on
	default:
		s.probation = on
	}
}

func parseCoreRules(t *testing.T) []*coreRule {
	t.Helper()
	var rules []*coreRule
	split := func(tok string) (string, map[string]bool) {
		i := strings.IndexAny(tok, "+-")
		if i < 0 {
			return tok, nil
		}
		flags := map[string]bool{}
		rest := tok[i:]
		if flagRe.ReplaceAllString(rest, "") != "" {
			t.Fatalf("bad flags %q", rest)
		}
		for _, m := range flagRe.FindAllStringSubmatch(rest, -1) {
			flags[m[2]] = m[1] == "+"
		}
		return tok[:i], flags
	}
	for _, line := range strings.Split(strings.TrimSpace(coreWant), "\n") {
		lhs, rhs, _ := strings.Cut(line, " -> ")
		from, ev, _ := strings.Cut(lhs, " ")
		to, effs, _ := strings.Cut(rhs, " ")
		r := &coreRule{line: line, event: ev}
		r.from, r.fromFlags = split(from)
		r.to, r.toFlags = split(to)
		if effs != "" {
			r.effects = strings.Split(effs, ",")
		}
		rules = append(rules, r)
	}
	return rules
}

// allCoreStates is every combination of a phase and the flags.
func allCoreStates() []coreState {
	var out []coreState
	for p := range numPhases {
		for bits := range 8 {
			out = append(out, coreState{phase: p, conn: bits&1 != 0, stopping: bits&2 != 0, probation: bits&4 != 0})
		}
	}
	return out
}

// TestCoreNextEveryPair checks every (state, event) pair against coreWant.
func TestCoreNextEveryPair(t *testing.T) {
	rules := parseCoreRules(t)
	pairs := 0
	for _, s := range allCoreStates() {
		for e := range numCoreEvents {
			pairs++
			to, effs, ok := coreNext(s, e)
			var rule *coreRule
			for _, r := range rules {
				if r.event != e.String() || (r.from != "*" && r.from != s.phase.String()) {
					continue
				}
				fits := true
				for name, on := range r.fromFlags {
					fits = fits && flagOf(s, name) == on
				}
				if fits {
					rule = r
					break
				}
			}
			got := fmt.Sprintf("%v %v %v", to, effs, ok)
			if rule == nil {
				if ok || to != s || effs != nil {
					t.Errorf("%v %v: %s, want it ignored", s, e, got)
				}
				continue
			}
			rule.matched = true
			want := s
			if rule.to != "=" {
				for p := range numPhases {
					if p.String() == rule.to {
						want.phase = p
					}
				}
			}
			for name, on := range rule.toFlags {
				setFlag(&want, name, on)
			}
			var names []string
			for _, f := range effs {
				names = append(names, f.String())
			}
			if !ok || to != want || !slices.Equal(names, rule.effects) {
				t.Errorf("%v %v: %s, want %v %v (rule %q)", s, e, got, want, rule.effects, rule.line)
			}
		}
	}
	if want := int(numPhases) * 8 * int(numCoreEvents); pairs != want {
		t.Errorf("walked %d pairs, want %d", pairs, want)
	}
	for _, r := range rules {
		if !r.matched {
			t.Errorf("rule %q matches no pair", r.line)
		}
	}
}

// TestCoreNextInvariants checks what must hold whatever the rules say.
func TestCoreNextInvariants(t *testing.T) {
	for _, s := range allCoreStates() {
		for e := range numCoreEvents {
			to, effs, _ := coreNext(s, e)
			if !s.conn && to.conn && !slices.Contains(effs, efServe) {
				t.Errorf("%v %v: a connection opens without serve", s, e)
			}
			if s.conn && !to.conn && !slices.Contains(effs, efDropConn) {
				t.Errorf("%v %v: a connection closes without drop-conn", s, e)
			}
			if s.phase == phaseDown && to.phase != phaseDown && e != ceSpawned {
				t.Errorf("%v %v: a core appears without a spawn", s, e)
			}
			if s.phase.alive() && to.phase == phaseDown && !slices.Contains(effs, efEnded) {
				t.Errorf("%v %v: a core is gone without its end recorded", s, e)
			}
			if s.stopping && !to.stopping {
				t.Errorf("%v %v: a stop is taken back", s, e)
			}
			if !s.probation && to.probation {
				t.Errorf("%v %v: probation begins inside the table", s, e)
			}
			for _, f := range effs {
				if strings.HasPrefix(f.String(), "coreEffect(") {
					t.Errorf("%v %v: effect %d has no name", s, e, f)
				}
			}
		}
	}
	for e := range numCoreEvents {
		if strings.HasPrefix(e.String(), "coreEvent(") || e.String() == "" {
			t.Errorf("event %d has no name", e)
		}
	}
}
