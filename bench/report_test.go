package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseOptionsPeers(t *testing.T) {
	cases := []struct {
		args []string
		want []string
		err  bool
	}{
		{nil, allPeers, false},
		{[]string{"-peers", "daemontools, S6,respawn"}, []string{"respawn", "s6", "daemontools"}, false},
		{[]string{"-peers", "s6,s6"}, []string{"s6"}, false},
		{[]string{"-peers", "runit"}, nil, true},
		{[]string{"-peers", ","}, nil, true},
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("bench", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		o, err := parseOptions(fs, c.args)
		if c.err {
			if !errors.Is(err, errUsage) {
				t.Errorf("%v: err = %v, want errUsage", c.args, err)
			}
			continue
		}
		if err != nil || !slices.Equal(o.peers, c.want) {
			t.Errorf("%v: peers = %v, %v; want %v", c.args, o.peers, err, c.want)
		}
	}
}

func TestParseOptionsScenarios(t *testing.T) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o, err := parseOptions(fs, []string{"-only", "g,f,a", "-storm", "50", "-window", "5s", "-queries", "30"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.only, []string{"a", "f", "g"}) || o.storm != 50 || o.window != 5*time.Second || o.queries != 30 {
		t.Errorf("options = %+v", o)
	}
	for _, bad := range [][]string{{"-only", "h"}, {"-storm", "1"}, {"-window", "10ms"}, {"-queries", "0"}} {
		fs := flag.NewFlagSet("bench", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		if _, err := parseOptions(fs, bad); !errors.Is(err, errUsage) {
			t.Errorf("%v: err = %v, want errUsage", bad, err)
		}
	}
	fs = flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o, err = parseOptions(fs, nil)
	if err != nil || !slices.Equal(o.only, scenarios) {
		t.Errorf("default -only = %v, %v; want every scenario", o.only, err)
	}
}

func TestRatioToBest(t *testing.T) {
	tb := &table{peers: []string{"respawn", "supervisord", "s6", "daemontools"}}
	cases := []struct {
		name string
		r    row
		want string
	}{
		{"lowest wins", row{cells: []figure{value(2), value(1000), value(4), value(8)}}, "0.500 (s6)"},
		{"highest wins", row{higher: true, cells: []figure{value(100), value(200), value(50), missing("")}}, "0.500 (supervisord)"},
		{"missing peers are skipped", row{cells: []figure{value(3), missing("x"), missing("y"), value(6)}}, "0.500 (daemontools)"},
		{"no other peer", row{cells: []figure{value(3), missing(""), missing(""), missing("")}}, ""},
		{"respawn missing", row{cells: []figure{missing(""), value(1), value(1), value(1)}}, ""},
		{"counts", row{noRatio: true, cells: []figure{value(3), value(1), value(1), value(1)}}, ""},
		{"zero best", row{cells: []figure{value(0), value(0), value(1), value(1)}}, "1 (supervisord)"},
		{"tiny", row{cells: []figure{value(0.002), value(1), value(1.01), value(1.02)}}, "2.0e-03 (supervisord)"},
	}
	for _, c := range cases {
		if got := tb.ratio(c.r); got != c.want {
			t.Errorf("%s: ratio = %q, want %q", c.name, got, c.want)
		}
	}
	// Without a respawn column there is nothing to compare.
	other := &table{peers: []string{"s6", "daemontools"}}
	if got := other.ratio(row{cells: []figure{value(1), value(2)}}); got != "" {
		t.Errorf("no respawn column: ratio = %q, want empty", got)
	}
}

func TestVerdict(t *testing.T) {
	tb := &table{peers: []string{"supervisord", "respawn"}}
	tgt := atMost(2, "2")
	for _, c := range []struct {
		r    row
		want string
	}{
		{row{target: tgt, cells: []figure{value(9), value(1)}}, "PASS"},
		{row{target: tgt, cells: []figure{value(1), value(3)}}, "MISS"},
		{row{target: tgt, cells: []figure{value(1), missing("")}}, "n/a"},
		{row{cells: []figure{value(1), value(3)}}, ""},
	} {
		if got := tb.verdict(c.r); got != c.want {
			t.Errorf("verdict(%+v) = %q, want %q", c.r, got, c.want)
		}
	}
	tb.add(row{target: tgt, cells: []figure{value(9), value(1)}})
	tb.add(row{target: tgt, cells: []figure{value(1), value(3)}})
	if p, m := tb.verdicts(); p != 1 || m != 1 {
		t.Errorf("verdicts = %d, %d; want 1, 1", p, m)
	}
}

func TestTablePrint(t *testing.T) {
	tb := &table{title: "(x) demo", peers: []string{"respawn", "s6"}}
	tb.add(row{label: "p50", unit: unitMs, target: atMost(0.002, "2 ms"), cells: []figure{value(0.0015), value(0.003)}})
	tb.add(row{label: "rate", unit: unitRate, noRatio: true, cells: []figure{value(200), missing("skipped")}})
	tb.note("load %s", "1.0")
	var b bytes.Buffer
	tb.print(&b)
	got := b.String()
	lines := strings.Split(strings.Trim(got, "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("printed %d lines, want 6:\n%s", len(lines), got)
	}
	for i, want := range [][]string{
		{"(x) demo"},
		{"────────"},
		{"respawn", "s6", "respawn ÷ best peer", "target"},
		{"p50", "1.500 ms", "3.000 ms", "0.500 (s6)", "≤ 2 ms", "PASS"},
		{"rate", "200.0 /s", "n/a (skipped)"},
		{"note: load 1.0"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	}
	// The columns line up: every cell of a column starts at one offset.
	col := func(line, cell string) int { return len([]rune(line[:strings.Index(line, cell)])) }
	if a, b := col(lines[2], "s6"), col(lines[3], "3.000 ms"); a != b {
		t.Errorf("s6 column at %d in the header and %d in the row:\n%s", a, b, got)
	}
}
