package config

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// idKey is one of the keys that find a service's process (pidfile, match,
// unit), where it is written.
type idKey struct {
	name string
	at   *yaml.Node
}

// noteID records an identifying key, whatever its value, and refuses it in
// the defaults: it names one service's process.
func (d *decoder) noteID(l *layer, v *yaml.Node, path, name string) bool {
	if l.defaults {
		d.errorf(resolve(v), "%s: %s cannot be set in defaults; it names one service's process", path, name)
		return false
	}
	l.idKeys = append(l.idKeys, idKey{name, resolve(v)})
	return true
}

// pidfile is kept unexpanded: it is expanded like cwd, per service.
func (d *decoder) pidfile(l *layer, v *yaml.Node, path string) {
	if !d.noteID(l, v, path, "pidfile") {
		return
	}
	s, ok := d.raw(v, path, "a path")
	if !ok {
		return
	}
	if strings.TrimSpace(s) == "" {
		d.errorf(resolve(v), "%s: must not be empty", path)
		return
	}
	l.pidfile.put(s, v)
}

func (d *decoder) match(l *layer, v *yaml.Node, path string) {
	if !d.noteID(l, v, path, "match") {
		return
	}
	s, ok := d.text(v, path, "a regular expression")
	if !ok {
		return
	}
	if s == "" {
		d.errorf(resolve(v), "%s: must not be empty (it would match every process)", path)
		return
	}
	re, err := regexp.Compile(s)
	if err != nil {
		d.errorAt(resolve(v), err, "%s: invalid regular expression: %v", path, err)
		return
	}
	l.match.put(re, v)
}

// unitTypes are the suffixes of systemd unit names.
var unitTypes = []string{"service", "socket", "device", "mount", "automount", "swap", "target", "path", "timer", "slice", "scope"}

// unitName is the set of characters systemd allows in a unit name.
var unitName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+$`) })

// maxUnitLen is systemd's limit on a unit name, suffix included.
const maxUnitLen = 255

// unit reads a systemd unit name. A name without a type suffix gets
// ".service", as systemctl reads it, so that callers see one spelling.
func (d *decoder) unit(l *layer, v *yaml.Node, path string) {
	if !d.noteID(l, v, path, "unit") {
		return
	}
	s, ok := d.text(v, path, "a systemd unit name")
	if !ok {
		return
	}
	if _, suffix, found := cutLast(s, "."); !found || !slices.Contains(unitTypes, suffix) {
		s += ".service"
	}
	switch {
	case !unitName().MatchString(s) || strings.HasPrefix(s, "."):
		d.errorf(resolve(v), "%s: invalid unit name %q (systemd allows letters, digits, ':', '_', '.', '\\', '@' and '-')", path, shorten(s))
	case len(s) > maxUnitLen:
		d.errorf(resolve(v), "%s: unit name %q is longer than %d characters", path, shorten(s), maxUnitLen)
	default:
		l.unit.put(s, v)
	}
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

func (d *decoder) start(l *layer, v *yaml.Node, path string) {
	if l.defaults {
		d.errorf(resolve(v), "%s: start cannot be set in defaults; give each external service its own", path)
		return
	}
	if c, ok := d.rawArgv(v, path); ok {
		l.start.put(c, v)
	}
}

func (d *decoder) stopCommand(l *layer, v *yaml.Node, path string) {
	if l.defaults {
		d.errorf(resolve(v), "%s: stop.command cannot be set in defaults; set it per service", path)
		return
	}
	if c, ok := d.rawArgv(v, path); ok {
		l.stopCommand.put(c, v)
	}
}

// kindKnown is false when the service's kind was written wrong (and
// reported): then checks that depend on it are not made.
func kindKnown(own, base *layer) bool {
	kind := over(own.kind, base.kind, KindProcess)
	return kind.at != nil || !(own.kindWritten || base.kindWritten)
}

// finalProcess fills in how a forking or external service's process is
// found and started, and checks those keys against the kind. lookup
// expands start as command is; env expands pidfile as cwd is.
func (d *decoder) finalProcess(s *Service, own *layer, key *yaml.Node, path string, lookup, env func(string) (string, bool)) {
	ids := slices.Clone(own.idKeys)
	slices.SortFunc(ids, func(a, b idKey) int {
		return cmp.Or(cmp.Compare(a.at.Line, b.at.Line), cmp.Compare(a.at.Column, b.at.Column))
	})
	switch s.Kind {
	case KindExternal:
		switch len(ids) {
		case 0:
			d.errorf(key, "%s: kind external needs one of pidfile, match, unit to find its process", path)
		case 1:
		default:
			d.errorf(ids[1].at, "%s: takes exactly one of pidfile, match, unit; got %s", path, idNames(ids))
		}
	case KindForking:
		if !slices.ContainsFunc(ids, func(k idKey) bool { return k.name == "pidfile" }) {
			d.errorf(key, "%s: kind forking needs pidfile, the file its daemon writes its pid to", path)
		}
		for _, k := range ids {
			if k.name != "pidfile" {
				d.errorf(k.at, "%s: %s needs kind: external (a forking service is found by its pidfile)", join(path, k.name), k.name)
			}
		}
	default:
		for _, k := range ids {
			if k.name == "pidfile" {
				d.errorf(k.at, "%s: pidfile needs kind: forking or external", join(path, k.name))
			} else {
				d.errorf(k.at, "%s: %s needs kind: external", join(path, k.name), k.name)
			}
		}
	}
	if own.start.at != nil && s.Kind != KindExternal {
		d.errorf(own.start.at, "%s: start needs kind: external (a %s service is started by command)", join(path, "start"), s.Kind)
	}
	if n := own.replicas; n.val > 1 && (s.Kind == KindForking || s.Kind == KindExternal) {
		d.errorf(n.at, "%s: kind %s watches one process; replicas must be 1", join(path, "replicas"), s.Kind)
	}

	if s.Kind != KindForking && s.Kind != KindExternal {
		return
	}
	if own.pidfile.at != nil {
		p, _ := expand(own.pidfile.val, env) // syntax checked when read
		if strings.TrimSpace(p) == "" {
			d.errorf(own.pidfile.at, "%s: empty once variables are expanded", join(path, "pidfile"))
		} else {
			s.Pidfile = d.abs(p)
		}
	}
	if s.Kind == KindExternal {
		s.Match, s.Unit = own.match.val, own.unit.val
		if own.start.at != nil {
			s.Start = d.argv(own.start, lookup, join(path, "start"))
		}
	}
}

func idNames(ids []idKey) string {
	names := make([]string, len(ids))
	for i, k := range ids {
		names[i] = k.name
	}
	return strings.Join(names, " and ")
}

// finalStop fills in stop.command and checks it against stop.signal.
func (d *decoder) finalStop(s *Service, own *layer, path string, lookup func(string) (string, bool)) {
	c := own.stopCommand
	if c.at == nil {
		return
	}
	if own.signal.at != nil {
		d.errorf(c.at, "%s: takes signal or command, not both: a stop command replaces the signal", join(path, "stop"))
		return
	}
	s.Stop.Command = d.argv(c, lookup, join(path, "stop.command"))
}

// checkExternalReady refuses a log readiness probe on an external service:
// respawn does not capture the output of a process it did not start.
func (d *decoder) checkExternalReady(s *Service, own, base *layer, path string) {
	if s.Kind != KindExternal || s.Ready == nil || s.Ready.Log == nil {
		return
	}
	at := base.ready.log.at
	if own.ready.writesKind {
		at = own.ready.log.at
	}
	d.errorf(at, "%s: respawn does not see an external service's output; use another probe", join(path, "ready.log"))
}
