package main

import (
	"fmt"
	"io"
	"math"
	"slices"
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
	unitCPUms = unit{func(v float64) string { return fmt.Sprintf("%.1f CPU-ms", v) }}
	unitPct   = unit{func(v float64) string { return fmt.Sprintf("%.2f %%", v) }}
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
	label string
	unit  unit
	// cells holds one figure per peer, in the order of the table's peers.
	cells  []figure
	target *target
	// higher marks a figure where more is better (throughput), for the
	// choice of the best peer.
	higher bool
	// noRatio hides the ratio column where dividing makes no sense (counts).
	noRatio bool
}

// table is one scenario's results.
type table struct {
	title string
	peers []string // column order; "respawn" is the one held to targets
	rows  []row
	notes []string
}

func (t *table) add(r row)               { t.rows = append(t.rows, r) }
func (t *table) note(f string, a ...any) { t.notes = append(t.notes, fmt.Sprintf(f, a...)) }

// verdicts counts the PASS and MISS rows, for the summary line.
func (t *table) verdicts() (pass, miss int) {
	for _, r := range t.rows {
		switch t.verdict(r) {
		case "PASS":
			pass++
		case "MISS":
			miss++
		}
	}
	return pass, miss
}

// respawn is respawn's cell in r, and whether the table has one.
func (t *table) respawn(r row) (figure, bool) {
	i := slices.Index(t.peers, "respawn")
	if i < 0 || i >= len(r.cells) {
		return figure{}, false
	}
	return r.cells[i], true
}

func (t *table) verdict(r row) string {
	f, _ := t.respawn(r)
	switch {
	case r.target == nil:
		return ""
	case !f.ok:
		return "n/a"
	case r.target.meet(f.v):
		return "PASS"
	default:
		return "MISS"
	}
}

// best picks the best figure among the peers other than respawn: the
// lowest, or the highest for a row where more is better. ok is false when
// no other peer has a figure.
func (t *table) best(r row) (name string, v float64, ok bool) {
	for i, f := range r.cells {
		if i >= len(t.peers) || t.peers[i] == "respawn" || !f.ok {
			continue
		}
		if !ok || (r.higher && f.v > v) || (!r.higher && f.v < v) {
			name, v, ok = t.peers[i], f.v, true
		}
	}
	return name, v, ok
}

// ratio is respawn's figure divided by the best other peer's, with that
// peer's name: below 1 is better for times, CPU and memory, above 1 for
// throughput.
func (t *table) ratio(r row) string {
	f, has := t.respawn(r)
	if r.noRatio || !has || !f.ok {
		return ""
	}
	name, b, ok := t.best(r)
	if !ok {
		return ""
	}
	return quotient(f.v, b) + " (" + name + ")"
}

func quotient(a, b float64) string {
	if b == 0 {
		if a == 0 {
			return "1"
		}
		return "∞"
	}
	q := a / b
	switch {
	case q == 0:
		return "0"
	case math.Abs(q) < 0.01:
		return fmt.Sprintf("%.1e", q)
	default:
		return fmt.Sprintf("%.3f", q)
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

func (t *table) print(w io.Writer) {
	fmt.Fprintf(w, "\n%s\n%s\n", t.title, strings.Repeat("─", len([]rune(t.title))))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\t%s\trespawn ÷ best peer\ttarget\t\n", strings.Join(t.peers, "\t"))
	for _, r := range t.rows {
		tgt := ""
		if r.target != nil {
			tgt = r.target.text
		}
		cells := make([]string, len(t.peers))
		for i := range cells {
			cells[i] = "n/a"
			if i < len(r.cells) {
				cells[i] = r.cells[i].String(r.unit)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.label, strings.Join(cells, "\t"), t.ratio(r), tgt, t.verdict(r))
	}
	tw.Flush()
	for _, n := range t.notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}
