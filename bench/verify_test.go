package main

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/bench/internal/lines"
)

func TestParseStamps(t *testing.T) {
	in := "start 100\nexit 150\nstart 170\nexit 200\nstart 260\nstart 300\nexit 310\ngarbage\n"
	s := parseStamps([]byte(in))
	want := []time.Duration{20, 60}
	if s.starts != 4 || s.overlaps != 1 || s.bad != 1 || fmt.Sprint(s.gaps) != fmt.Sprint(want) {
		t.Fatalf("parseStamps = %+v, want 4 starts, 1 overlap, 1 bad, gaps %v", s, want)
	}
}

func TestCheckCapture(t *testing.T) {
	build := func(prefixed bool, nums ...int) *bytes.Buffer {
		var b bytes.Buffer
		for _, n := range nums {
			if prefixed {
				b.WriteString("2026-11-26T02:32:25.123456Z out ")
			}
			if n < 0 {
				b.WriteString("not a numbered line\n")
				continue
			}
			b.Write(lines.Line(n))
		}
		return &b
	}
	cases := []struct {
		name     string
		prefixed bool
		nums     []int
		want     captureCheck
	}{
		{"intact", false, []int{0, 1, 2, 3}, captureCheck{ok: 4}},
		{"intact prefixed", true, []int{0, 1, 2, 3}, captureCheck{ok: 4}},
		{"gap", false, []int{0, 2, 3}, captureCheck{ok: 3, lost: 1}},
		{"tail lost", true, []int{0, 1}, captureCheck{ok: 2, lost: 2}},
		{"duplicate", false, []int{0, 1, 1, 2, 3}, captureCheck{ok: 4, dup: 1}},
		{"corrupt", true, []int{0, 1, -1, 2, 3}, captureCheck{ok: 4, corrupt: 1}},
	}
	for _, c := range cases {
		got, err := checkCapture(build(c.prefixed, c.nums...), 4, c.prefixed)
		if err != nil || got != c.want {
			t.Errorf("%s: checkCapture = %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
	// A torn line: half of line 1 glued to line 2.
	b := build(false, 0)
	b.Write(lines.Line(1)[:40])
	b.Write(lines.Line(2))
	got, err := checkCapture(b, 3, false)
	if want := (captureCheck{ok: 1, lost: 2, corrupt: 1}); err != nil || got != want {
		t.Errorf("torn: checkCapture = %+v, %v; want %+v", got, err, want)
	}
}

func TestPercentile(t *testing.T) {
	xs := []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 5}, {99, 10}, {10, 1}, {100, 10}} {
		if got := percentile(xs, c.p); got != c.want {
			t.Errorf("percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile(nil) = %v, want 0", got)
	}
}
