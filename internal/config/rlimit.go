package config

import (
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// rlimitNames are the limits a service may set, as listed on Service.Rlimits.
var rlimitNames = []string{
	"as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue",
	"nice", "nofile", "nproc", "rtprio", "sigpending", "stack",
}

// rlimitPair collects the {soft, hard} form.
type rlimitPair struct{ soft, hard field[uint64] }

var rlimitPairTable = table[rlimitPair]{build: func() map[string]func(*decoder, *rlimitPair, *yaml.Node, string) {
	return map[string]func(*decoder, *rlimitPair, *yaml.Node, string){
		"soft": func(d *decoder, r *rlimitPair, v *yaml.Node, p string) { putOK(&r.soft, v)(d.rlimitValue(v, p)) },
		"hard": func(d *decoder, r *rlimitPair, v *yaml.Node, p string) { putOK(&r.hard, v)(d.rlimitValue(v, p)) },
	}
}}

func (d *decoder) rlimits(l *layer, v *yaml.Node, path string) {
	pairs, _ := d.mapping(v, path)
	for _, p := range pairs {
		if !slices.Contains(rlimitNames, p.name) {
			if s := suggest(p.name, rlimitNames); s != "" {
				d.errorf(p.key, "%s: unknown limit %q (did you mean %q?)", path, shorten(p.name), s)
			} else {
				d.errorf(p.key, "%s: unknown limit %q (known: %s)", path, shorten(p.name), strings.Join(rlimitNames, ", "))
			}
			continue
		}
		kp := join(path, p.name)
		n := resolve(p.val)
		switch {
		case isNull(n):
		case n.Kind == yaml.MappingNode:
			var r rlimitPair
			before := d.nerrs
			walk(d, n, kp, &rlimitPairTable, &r)
			switch {
			case d.nerrs > before:
			case r.soft.at == nil || r.hard.at == nil:
				d.errorf(n, "%s: needs both soft and hard", kp)
			case r.soft.val > r.hard.val:
				d.errorf(r.soft.at, "%s: soft limit is above the hard limit", kp)
			default:
				l.rlimits[p.name] = field[Rlimit]{val: Rlimit{Soft: r.soft.val, Hard: r.hard.val}, at: n}
			}
		default:
			if lim, ok := d.rlimitValue(n, kp); ok {
				l.rlimits[p.name] = field[Rlimit]{val: Rlimit{Soft: lim, Hard: lim}, at: n}
			}
		}
	}
}

// rlimitValue reads a non-negative integer or "unlimited" / "infinity".
func (d *decoder) rlimitValue(v *yaml.Node, path string) (uint64, bool) {
	s, ok := d.text(v, path, `an integer or "unlimited"`)
	if !ok {
		return 0, false
	}
	s = strings.TrimSpace(s)
	if s == "unlimited" || s == "infinity" {
		return Unlimited, true
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == Unlimited {
		d.errorf(resolve(v), `%s: expected a non-negative integer or "unlimited", got %q`, path, shorten(s))
		return 0, false
	}
	return n, true
}
