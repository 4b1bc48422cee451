package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// figure is one measured value; ok is false when it could not be measured,
// and note then says why.
type figure struct {
	v    float64
	ok   bool
	note string
}

func value(v float64) figure          { return figure{v: v, ok: true} }
func missing(note string) figure      { return figure{note: note} }
func seconds(d time.Duration) float64 { return d.Seconds() }

// unit formats values of one kind.
type unit struct {
	format func(float64) string
}

var (
	unitMs = unit{func(v float64) string { return fmt.Sprintf("%.3f ms", v*1e3) }}
	unitS  = unit{func(v float64) string {
		if v < 1 {
			return fmt.Sprintf("%.0f ms", v*1e3)
		}
		return fmt.Sprintf("%.2f s", v)
	}}
	unitCPU   = unit{func(v float64) string { return fmt.Sprintf("%.4f CPU-s/min", v) }}
	unitMB    = unit{func(v float64) string { return fmt.Sprintf("%.1f MB", v) }}
	unitMBps  = unit{func(v float64) string { return fmt.Sprintf("%.0f MB/s", v) }}
	unitRate  = unit{func(v float64) string { return fmt.Sprintf("%.1f /s", v) }}
	unitCount = unit{func(v float64) string { return fmt.Sprintf("%.0f", v) }}
	unitX     = unit{func(v float64) string { return fmt.Sprintf("%.2f×", v) }}
)

// target is a bound respawn's figure must meet; a nil target means the row
// is information only.
type target struct {
	text string
	meet func(float64) bool
}

func atMost(v float64, text string) *target {
	return &target{text: "≤ " + text, meet: func(x float64) bool { return x <= v }}
}

func atLeast(v float64, text string) *target {
	return &target{text: "≥ " + text, meet: func(x float64) bool { return x >= v }}
}

// row is one line of a scenario's table.
type row struct {
	label   string
	unit    unit
	respawn figure
	peer    figure
	target  *target
	// noRatio hides the ratio column where dividing makes no sense (counts).
	noRatio bool
}

// table is one scenario's results.
type table struct {
	title string
	rows  []row
	notes []string
}

func (t *table) add(r row)               { t.rows = append(t.rows, r) }
func (t *table) note(f string, a ...any) { t.notes = append(t.notes, fmt.Sprintf(f, a...)) }

// verdicts counts the PASS and MISS rows, for the summary line.
func (t *table) verdicts() (pass, miss int) {
	for _, r := range t.rows {
		switch verdict(r) {
		case "PASS":
			pass++
		case "MISS":
			miss++
		}
	}
	return pass, miss
}

func verdict(r row) string {
	switch {
	case r.target == nil:
		return ""
	case !r.respawn.ok:
		return "n/a"
	case r.target.meet(r.respawn.v):
		return "PASS"
	default:
		return "MISS"
	}
}

func (f figure) String(u unit) string {
	if !f.ok {
		if f.note == "" {
			return "n/a"
		}
		return "n/a (" + f.note + ")"
	}
	return u.format(f.v)
}

func ratio(r row) string {
	if r.noRatio || !r.respawn.ok || !r.peer.ok {
		return ""
	}
	if r.peer.v == 0 {
		if r.respawn.v == 0 {
			return "1"
		}
		return "∞"
	}
	q := r.respawn.v / r.peer.v
	switch {
	case q == 0:
		return "0"
	case math.Abs(q) < 0.01:
		return fmt.Sprintf("%.1e", q)
	default:
		return fmt.Sprintf("%.3f", q)
	}
}

func (t *table) print(w io.Writer) {
	fmt.Fprintf(w, "\n%s\n%s\n", t.title, strings.Repeat("─", len([]rune(t.title))))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\trespawn\tsupervisord\tratio\ttarget\t")
	for _, r := range t.rows {
		tgt := ""
		if r.target != nil {
			tgt = r.target.text
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.label, r.respawn.String(r.unit), r.peer.String(r.unit), ratio(r), tgt, verdict(r))
	}
	tw.Flush()
	for _, n := range t.notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}
