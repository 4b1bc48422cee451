package observe

import (
	"strings"
	"testing"
)

func TestParseStatStartTime(t *testing.T) {
	// A command name with spaces and both parentheses, as a program may choose.
	line := "4242 (a) 1 2 (b) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 987654321 1000000 25 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := Parse([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.Start != 987654321 || st.State != 'S' || st.Pgrp != 4242 || st.Pid != 4242 || st.Comm != "a) 1 2 (b" {
		t.Fatalf("parseStat: %+v, want pid 4242, comm %q, start 987654321, state S, pgrp 4242", st, "a) 1 2 (b")
	}
	bad := strings.Replace(line, "987654321", "x", 1)
	if _, err := Parse([]byte(bad)); err == nil {
		t.Fatal("a start time that is no number: no error")
	}
}

func TestParseStat(t *testing.T) {
	line := "4242 (a (weird) name) S 1 4240 4240 0 -1 4194560 100 0 0 0 150 50 7 3 20 0 1 0 12345 1000000 300 18446744073709551615\n"
	st, err := Parse([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.Pgrp != 4240 || st.Ticks != 210 || st.RSS != 300*PageSize {
		t.Fatalf("parsed %+v", st)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 nope 3 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 1 1 1"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
