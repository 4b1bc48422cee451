package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidSchedule is wrapped by ParseSchedule's errors.
var ErrInvalidSchedule = errors.New("invalid schedule")

// Schedule is a parsed `schedule:` value: a 5-field cron expression or a
// descriptor such as @daily or @every 10m.
type Schedule struct {
	text string
	// every is set for @every; the cron fields are then unused.
	every time.Duration
	// Bit i of a field is set when value i fires. Day of week 7 is stored as 0.
	minute, hour, dom, month, dow uint64
	// domAny and dowAny are true when the field starts with "*": only when
	// neither does is a day matching either field enough (the cron rule).
	domAny, dowAny bool
}

// searchYears bounds Next. The longest wait of a schedule ParseSchedule
// accepts is 11 years: the 1st of one month on one weekday ("0 0 */31
// jan mon"), which recurs after 5, 6 or 11 years. Feb 29 recurs within 8.
const searchYears = 12

// Next returns the first time strictly after t that the schedule fires, in
// t's location. For @every it is t plus the interval. It returns the zero
// time when nothing fires within twelve years, which ParseSchedule makes
// impossible for the schedules it returns.
func (s *Schedule) Next(t time.Time) time.Time {
	if s == nil {
		return time.Time{}
	}
	if s.every > 0 {
		return t.Add(s.every)
	}
	loc := t.Location()
	limit := t.AddDate(searchYears, 0, 0)
	c := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute()+1, 0, 0, loc)
	// Each step moves c forward to the next candidate month, day, hour or
	// minute; the step count bound is a second guard should a clock change
	// make time.Date go back.
	for steps := 0; c.Before(limit) && steps < 1<<20; steps++ {
		var next time.Time
		switch {
		case !has(s.month, int(c.Month())):
			next = time.Date(c.Year(), c.Month()+1, 1, 0, 0, 0, 0, loc)
		case !s.dayMatches(c):
			next = time.Date(c.Year(), c.Month(), c.Day()+1, 0, 0, 0, 0, loc)
		case !has(s.hour, c.Hour()):
			next = time.Date(c.Year(), c.Month(), c.Day(), c.Hour()+1, 0, 0, 0, loc)
		case !has(s.minute, c.Minute()):
			next = time.Date(c.Year(), c.Month(), c.Day(), c.Hour(), c.Minute()+1, 0, 0, loc)
		default:
			return c
		}
		if !next.After(c) {
			next = c.Add(time.Minute)
		}
		c = next
	}
	return time.Time{}
}

func (s *Schedule) dayMatches(t time.Time) bool {
	dom, dow := has(s.dom, t.Day()), has(s.dow, int(t.Weekday()))
	if s.domAny || s.dowAny {
		return dom && dow
	}
	return dom || dow
}

func has(bits uint64, i int) bool { return bits&(1<<uint(i)) != 0 }

// String returns the schedule as written.
func (s *Schedule) String() string {
	if s == nil {
		return ""
	}
	return s.text
}

// descriptor returns the cron expression a descriptor such as @daily
// stands for (a switch: a map at package level is built at every start).
func descriptor(word string) (string, bool) {
	switch word {
	case "@hourly":
		return "0 * * * *", true
	case "@daily", "@midnight":
		return "0 0 * * *", true
	case "@weekly":
		return "0 0 * * 0", true
	case "@monthly":
		return "0 0 1 * *", true
	case "@yearly", "@annually":
		return "0 0 1 1 *", true
	}
	return "", false
}

// ParseSchedule parses a 5-field cron expression (minute hour day-of-month
// month day-of-week; `*`, numbers, ranges a-b, lists a,b, steps */n, a-b/n
// and a/n (a to the end of the field), month names jan..dec and day names
// sun..sat case-insensitive, 0 and 7 both Sunday; when both day-of-month
// and day-of-week are restricted, that is neither starts with `*`, a day
// matching either fires) or a descriptor: @every DUR (a Go duration, at
// least 1s; fires at t+DUR), @hourly, @daily / @midnight, @weekly,
// @monthly, @yearly / @annually. An expression that can never fire, such
// as `0 0 30 2 *`, is an error.
func ParseSchedule(s string) (*Schedule, error) {
	text := strings.TrimSpace(s)
	if text == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidSchedule)
	}
	if strings.HasPrefix(text, "@") {
		return parseDescriptor(s, text)
	}
	sc, err := parseCron(text)
	if err != nil {
		return nil, err
	}
	sc.text = s
	return sc, nil
}

func parseDescriptor(s, text string) (*Schedule, error) {
	word, arg, _ := strings.Cut(text, " ")
	word = strings.ToLower(word)
	arg = strings.TrimSpace(arg)
	if word == "@every" {
		if arg == "" {
			return nil, fmt.Errorf(`%w: @every needs a duration, such as "@every 5m"`, ErrInvalidSchedule)
		}
		d, err := time.ParseDuration(arg)
		if err != nil {
			return nil, fmt.Errorf(`%w: @every: expected a duration such as "30s" or "1h30m", got %q`, ErrInvalidSchedule, shorten(arg))
		}
		if d < time.Second {
			return nil, fmt.Errorf("%w: @every %s is less than 1s", ErrInvalidSchedule, arg)
		}
		return &Schedule{text: s, every: d}, nil
	}
	expr, ok := descriptor(word)
	if !ok {
		return nil, fmt.Errorf("%w: unknown descriptor %q (use @every DUR, @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually)",
			ErrInvalidSchedule, shorten(word))
	}
	if arg != "" {
		return nil, fmt.Errorf("%w: %s takes nothing after it, got %q", ErrInvalidSchedule, word, shorten(arg))
	}
	sc, err := parseCron(expr)
	if err != nil {
		panic(err) // a constant of this package
	}
	sc.text = s
	return sc, nil
}

// cronField describes one of the five fields.
type cronField struct {
	name   string
	lo, hi int
	names  []string // names[i] stands for lo+i
}

var (
	months = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
	days   = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

	cronFields = [5]cronField{
		{name: "minute", lo: 0, hi: 59},
		{name: "hour", lo: 0, hi: 23},
		{name: "day of month", lo: 1, hi: 31},
		{name: "month", lo: 1, hi: 12, names: months},
		{name: "day of week", lo: 0, hi: 7, names: days},
	}
)

func parseCron(text string) (*Schedule, error) {
	fields := strings.Fields(text)
	if len(fields) != 5 {
		return nil, fmt.Errorf("%w: expected 5 fields (minute hour day-of-month month day-of-week) or a descriptor such as @daily, got %d fields",
			ErrInvalidSchedule, len(fields))
	}
	var bits [5]uint64
	var errs []error
	for i, f := range fields {
		b, err := cronFields[i].parse(f)
		if err != nil {
			errs = append(errs, err)
		}
		bits[i] = b
	}
	if len(errs) > 0 {
		// Every field's mistake at once, in one message.
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalidSchedule, strings.Join(msgs, "; "))
	}
	if has(bits[4], 7) {
		bits[4] = bits[4]&^(1<<7) | 1
	}
	sc := &Schedule{
		minute: bits[0], hour: bits[1], dom: bits[2], month: bits[3], dow: bits[4],
		domAny: strings.HasPrefix(fields[2], "*"),
		dowAny: strings.HasPrefix(fields[4], "*"),
	}
	if !sc.canFire() {
		return nil, fmt.Errorf("%w: %q never fires: no month it names has any of the days it names", ErrInvalidSchedule, shorten(text))
	}
	return sc, nil
}

// canFire reports whether some day of some year matches.
func (s *Schedule) canFire() bool {
	switch {
	case !s.domAny && !s.dowAny:
		// Either field fires, and every month holds every weekday.
		return true
	case !s.dowAny:
		// Both must match. A day of month starting with "*" holds the 1st,
		// and the 1st of any month falls on every weekday over the years.
		return true
	}
	// Only the day of month restricts; February is counted with its 29th.
	lengths := [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	for m := 1; m <= 12; m++ {
		if !has(s.month, m) {
			continue
		}
		for d := 1; d <= lengths[m]; d++ {
			if has(s.dom, d) {
				return true
			}
		}
	}
	return false
}

// parse reads one field into a bit set.
func (f cronField) parse(text string) (uint64, error) {
	var bits uint64
	for item := range strings.SplitSeq(text, ",") {
		b, err := f.item(item)
		if err != nil {
			return 0, fmt.Errorf("%s %q: %w", f.name, shorten(text), err)
		}
		bits |= b
	}
	return bits, nil
}

func (f cronField) item(item string) (uint64, error) {
	if item == "" {
		return 0, errors.New("empty list item")
	}
	span, stepText, stepped := strings.Cut(item, "/")
	step := 1
	if stepped {
		n, err := strconv.Atoi(stepText)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("step %q is not a whole number of at least 1", shorten(stepText))
		}
		step = n
	}
	lo, hi := f.lo, f.hi
	if f.name == "day of week" {
		hi = 6 // 7 is Sunday again: "*" means 0-6, and so does "*/1"
	}
	switch loText, hiText, isRange := strings.Cut(span, "-"); {
	case span == "*":
	case isRange:
		a, err := f.value(loText)
		if err != nil {
			return 0, err
		}
		b, err := f.value(hiText)
		if err != nil {
			return 0, err
		}
		if a > b {
			return 0, fmt.Errorf("range %s goes backwards", span)
		}
		lo, hi = a, b
	default:
		a, err := f.value(span)
		if err != nil {
			return 0, err
		}
		lo = a
		if !stepped {
			hi = a
		} else if a > hi {
			hi = f.hi
		}
	}
	var bits uint64
	for v := lo; v <= hi; v += step {
		bits |= 1 << uint(v)
	}
	return bits, nil
}

// value reads a number or a name within the field's range.
func (f cronField) value(s string) (int, error) {
	for i, n := range f.names {
		if strings.EqualFold(s, n) {
			return f.lo + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		if f.names != nil {
			return 0, fmt.Errorf("%q is not a number from %d to %d nor a name %s..%s", shorten(s), f.lo, f.hi, f.names[0], f.names[len(f.names)-1])
		}
		return 0, fmt.Errorf("%q is not a number", shorten(s))
	}
	if v < f.lo || v > f.hi {
		return 0, fmt.Errorf("%d is out of range (%d to %d)", v, f.lo, f.hi)
	}
	return v, nil
}
