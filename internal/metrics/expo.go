package metrics

import (
	"bytes"
	"math"
	"sort"
	"strconv"
	"strings"
)

// The Prometheus text exposition format, version 0.0.4: a HELP and a TYPE
// line per family, then one line per series. Small and stable, it needs no
// client library.

// contentType is what the scrape answers with.
const contentType = "text/plain; version=0.0.4; charset=utf-8"

// The metric types used here.
const (
	counter = "counter"
	gauge   = "gauge"
	summary = "summary"
)

// family is a metric's name, help and type.
type family struct {
	name, help, typ string
}

// series is one line: labels rendered once, in the order given.
type series struct {
	suffix string // "_sum" or "_count" of a summary; "" otherwise
	labels string // `{a="1",b="2"}` or ""
	value  float64
}

// exposition collects the series of one scrape, by family.
type exposition struct {
	families map[string]family
	series   map[string][]series
}

// add records a series; labels are name, value pairs, names in sorted order.
func (e *exposition) add(f family, v float64, labels ...string) {
	e.addSuffixed(f, "", v, labels...)
}

// addSuffixed records a series of a summary's _sum or _count line.
func (e *exposition) addSuffixed(f family, suffix string, v float64, labels ...string) {
	if e.families == nil {
		e.families, e.series = map[string]family{}, map[string][]series{}
	}
	e.families[f.name] = f
	var l string
	if len(labels) > 0 {
		var b strings.Builder
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			b.WriteString(escapeLabel(labels[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
		l = b.String()
	}
	e.series[f.name] = append(e.series[f.name], series{suffix: suffix, labels: l, value: v})
}

// write writes the families sorted by name, and each family's series
// sorted by their labels, as client libraries do.
func (e *exposition) write(b *bytes.Buffer) {
	names := make([]string, 0, len(e.families))
	for n := range e.families {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := e.families[n]
		b.WriteString("# HELP " + n + " " + escapeHelp(f.help) + "\n")
		b.WriteString("# TYPE " + n + " " + f.typ + "\n")
		ss := e.series[n]
		// A summary's quantiles come before its _sum and _count.
		sort.SliceStable(ss, func(i, j int) bool {
			if ss[i].suffix != ss[j].suffix {
				return ss[i].suffix < ss[j].suffix
			}
			return ss[i].labels < ss[j].labels
		})
		for _, s := range ss {
			b.WriteString(n)
			b.WriteString(s.suffix)
			b.WriteString(s.labels)
			b.WriteByte(' ')
			b.WriteString(formatValue(s.value))
			b.WriteByte('\n')
		}
	}
}

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
