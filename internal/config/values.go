package config

import (
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Every scalar is read by its text, whatever YAML type it resolved to, so
// that "${TIMEOUT:-10s}", "10s" and 10s all work where a duration goes, and
// user: 1000 works as well as user: "1000".

// text returns the scalar at n with ${VAR} references expanded from the
// supervisor's environment.
func (d *decoder) text(n *yaml.Node, path, want string) (string, bool) {
	s, ok := d.raw(n, path, want)
	if !ok {
		return "", false
	}
	s, _ = expand(s, d.lookupEnv) // raw checked the syntax
	return s, true
}

// raw returns the scalar at n unexpanded, for values expanded later with
// more variables (a service's env and command); it checks the ${...}
// syntax now so that a mistake is reported once, at its place.
func (d *decoder) raw(n *yaml.Node, path, want string) (string, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || isNull(n) {
		d.typeError(n, path, want)
		return "", false
	}
	if _, err := expand(n.Value, noEnv); err != nil {
		d.errorAt(n, err, "%s: %v", path, err)
		return "", false
	}
	return n.Value, true
}

func noEnv(string) (string, bool) { return "", false }

func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	return d.text(n, path, "a string")
}

// oneOf reads a string that must be one of options.
func (d *decoder) oneOf(n *yaml.Node, path string, options ...string) (string, bool) {
	s, ok := d.text(n, path, "one of "+strings.Join(options, ", "))
	if !ok {
		return "", false
	}
	for _, o := range options {
		if s == o {
			return s, true
		}
	}
	d.errorf(resolve(n), "%s: %q is not one of %s", path, shorten(s), strings.Join(options, ", "))
	return "", false
}

func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	s, ok := d.text(n, path, "true or false")
	if !ok {
		return false, false
	}
	switch s {
	case "true", "True", "TRUE":
		return true, true
	case "false", "False", "FALSE":
		return false, true
	}
	d.errorf(resolve(n), "%s: expected true or false, got %q", path, shorten(s))
	return false, false
}

// integer reads a decimal integer in [lo, hi].
func (d *decoder) integer(n *yaml.Node, path string, lo, hi int) (int, bool) {
	s, ok := d.text(n, path, "an integer")
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		d.errorf(resolve(n), "%s: expected an integer, got %q", path, shorten(s))
		return 0, false
	}
	if v < lo || v > hi {
		d.errorf(resolve(n), "%s: %d is out of range (%s)", path, v, rangeText(lo, hi))
		return 0, false
	}
	return v, true
}

func rangeText(lo, hi int) string {
	if hi == math.MaxInt {
		return "at least " + strconv.Itoa(lo)
	}
	return strconv.Itoa(lo) + " to " + strconv.Itoa(hi)
}

// number reads a finite number in [lo, hi]; hi may be +Inf.
func (d *decoder) number(n *yaml.Node, path string, lo, hi float64) (float64, bool) {
	s, ok := d.text(n, path, "a number")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		d.errorf(resolve(n), "%s: expected a number, got %q", path, shorten(s))
		return 0, false
	}
	if v < lo || v > hi {
		if math.IsInf(hi, 1) {
			d.errorf(resolve(n), "%s: %v is out of range (at least %v)", path, v, lo)
		} else {
			d.errorf(resolve(n), "%s: %v is out of range (%v to %v)", path, v, lo, hi)
		}
		return 0, false
	}
	return v, true
}

// duration reads a non-negative Go duration ("100ms", "5m", "1h30m") or 0.
func (d *decoder) duration(n *yaml.Node, path string) (time.Duration, bool) {
	s, ok := d.text(n, path, "a duration")
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if _, isNumber := strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil && isNumber == nil {
		d.errorf(resolve(n), `%s: %q needs a unit, such as "%ss"`, path, shorten(s), strings.TrimSpace(s))
		return 0, false
	}
	if err != nil {
		d.errorf(resolve(n), `%s: expected a duration such as "100ms", "5m" or "1h30m", got %q`, path, shorten(s))
		return 0, false
	}
	if v < 0 {
		d.errorf(resolve(n), "%s: duration %s is negative", path, s)
		return 0, false
	}
	return v, true
}

// size reads a byte count as ParseSize does.
func (d *decoder) size(n *yaml.Node, path string) (int64, bool) {
	s, ok := d.text(n, path, "a size")
	if !ok {
		return 0, false
	}
	v, err := ParseSize(s)
	if err != nil {
		d.errorAt(resolve(n), err, "%s: %v", path, err)
		return 0, false
	}
	return v, true
}

// list returns the items of the sequence at n.
func (d *decoder) list(n *yaml.Node, path, want string) ([]*yaml.Node, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		d.typeError(n, path, want)
		return nil, false
	}
	return n.Content, true
}
