package exporter

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/lazy"
)

// cronSpec is a schedule taken apart, so that each target can be given the
// form it reads: systemd's calendar events, or a 5-field cron expression in
// numbers only (kubernetes reads neither 7 for Sunday nor every descriptor).
type cronSpec struct {
	every  time.Duration // @every; the fields are then unused
	fields [5]cronField  // minute, hour, day of month, month, day of week
}

// cronField is one field: the values it fires on (day of week 7 folded into
// 0), and whether it was written starting with "*", which decides how the
// two day fields combine.
type cronField struct {
	star   bool
	values []int
	// std is the field in numbers only: as written when it starts with
	// "*" (so the day fields still combine as they did), its other list
	// items (names, ranges, 7) replaced by their values.
	std string
}

var cronBounds = [5]struct{ min, max int }{{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}

var cronNames = [5][]string{
	3: {"", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"},
	4: {"sun", "mon", "tue", "wed", "thu", "fri", "sat"},
}

var cronDescriptors = &lazy.Value[map[string]string]{Build: func() map[string]string {
	return map[string]string{
		"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
		"@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
	}
}}

// parseCron reads a schedule that config has already validated.
func parseCron(text string) (cronSpec, error) {
	text = strings.TrimSpace(text)
	if rest, ok := strings.CutPrefix(text, "@every"); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return cronSpec{}, fmt.Errorf("schedule %q: %w", text, err)
		}
		return cronSpec{every: d}, nil
	}
	if d, ok := cronDescriptors.Get()[strings.ToLower(text)]; ok {
		text = d
	}
	words := strings.Fields(text)
	if len(words) != 5 {
		return cronSpec{}, fmt.Errorf("schedule %q: want 5 fields", text)
	}
	var c cronSpec
	for i, w := range words {
		f := cronField{star: strings.HasPrefix(w, "*")}
		var std []string
		for item := range strings.SplitSeq(strings.ToLower(w), ",") {
			vals, err := cronItem(item, i)
			if err != nil {
				return cronSpec{}, fmt.Errorf("schedule %q: %w", text, err)
			}
			if i == 4 {
				for j, v := range vals {
					if v == 7 {
						vals[j] = 0
					}
				}
			}
			f.values = append(f.values, vals...)
			if strings.HasPrefix(item, "*") {
				std = append(std, item)
			} else {
				std = append(std, joinInts(vals, "%d"))
			}
		}
		slices.Sort(f.values)
		f.values = slices.Compact(f.values)
		f.std = strings.Join(std, ",")
		if !f.star {
			f.std = joinInts(f.values, "%d")
		}
		c.fields[i] = f
	}
	return c, nil
}

// cronItem expands one list item: *, */n, a, a-b, a-b/n or a/n.
func cronItem(item string, field int) ([]int, error) {
	b := cronBounds[field]
	rng, stepText, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepText)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad step %q", item)
		}
		step = n
	}
	lo, hi := b.min, b.max
	if rng != "*" {
		a, z, isRange := strings.Cut(rng, "-")
		var err error
		if lo, err = cronValue(a, field); err != nil {
			return nil, err
		}
		hi = lo
		if isRange {
			if hi, err = cronValue(z, field); err != nil {
				return nil, err
			}
		} else if hasStep {
			hi = b.max
		}
	}
	var out []int
	for v := lo; v <= hi; v += step {
		out = append(out, v)
	}
	return out, nil
}

func cronValue(s string, field int) (int, error) {
	if i := slices.Index(cronNames[field], s); i > 0 || (i == 0 && field == 4) {
		return i, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("bad value %q", s)
	}
	return n, nil
}

// full says the field fires on every value it can hold.
func (f cronField) full(field int) bool {
	b := cronBounds[field]
	if field == 4 {
		return len(f.values) == 7
	}
	return len(f.values) == b.max-b.min+1
}

// standard returns the expression in numbers only, as kubernetes and nomad
// read it.
func (c cronSpec) standard() string {
	words := make([]string, 5)
	for i, f := range c.fields {
		words[i] = f.std
	}
	return strings.Join(words, " ")
}

// everyAsCron turns @every into a cron expression when one fires at the
// same times from the hour: the step must divide an hour or a day.
func everyAsCron(d time.Duration) (string, bool) {
	switch {
	case d%time.Minute != 0:
		return "", false
	case d == time.Minute:
		return "* * * * *", true
	case d < time.Hour && time.Hour%d == 0:
		return fmt.Sprintf("*/%d * * * *", d/time.Minute), true
	case d == time.Hour:
		return "0 * * * *", true
	case d%time.Hour == 0 && d < 24*time.Hour && (24*time.Hour)%d == 0:
		return fmt.Sprintf("0 */%d * * *", d/time.Hour), true
	case d == 24*time.Hour:
		return "0 0 * * *", true
	}
	return "", false
}

// calendar returns systemd OnCalendar= values. Cron fires on a day that
// matches either day field when both are restricted; a calendar event needs
// both, so that case takes two events.
func (c cronSpec) calendar() []string {
	var weekdays = []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	f := c.fields
	tod := fmt.Sprintf("%s:%s:00", calList(f[1], 1, "%02d"), calList(f[0], 0, "%02d"))
	month := calList(f[3], 3, "%02d")
	dow := ""
	if !f[4].full(4) {
		names := make([]string, len(f[4].values))
		for i, v := range f[4].values {
			names[i] = weekdays[v]
		}
		dow = strings.Join(names, ",") + " "
	}
	if !f[2].star && !f[4].star {
		return []string{
			fmt.Sprintf("*-%s-%s %s", month, calList(f[2], 2, "%02d"), tod),
			fmt.Sprintf("%s*-%s-* %s", dow, month, tod),
		}
	}
	return []string{fmt.Sprintf("%s*-%s-%s %s", dow, month, calList(f[2], 2, "%02d"), tod)}
}

func calList(f cronField, field int, format string) string {
	if f.full(field) {
		return "*"
	}
	return joinInts(f.values, format)
}

func joinInts(vals []int, format string) string {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = fmt.Sprintf(format, v)
	}
	return strings.Join(s, ",")
}

// numericSchedule gives a service's schedule in the five numeric cron
// fields Kubernetes and Nomad read: an @every as a step when one fires at
// the same times, else every minute, said in a note.
func numericSchedule(s *config.Service, r *Result) (string, error) {
	c, err := parseCron(s.Schedule.String())
	if err != nil {
		return "", fmt.Errorf("%s: %w", s.Name, err)
	}
	if c.every == 0 {
		return c.standard(), nil
	}
	if expr, ok := everyAsCron(c.every); ok {
		return expr, nil
	}
	r.notef(s, "schedule", "@every %s has no cron form (the step must divide an hour or a day); written as every minute", c.every)
	return "* * * * *", nil
}
