package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

type layerKey = func(d *decoder, l *layer, v *yaml.Node, path string)

// serviceTable holds the keys of a service, and of the defaults section.
var serviceTable = table[layer]{
	build: func() map[string]layerKey {
		return map[string]layerKey{
			"command":    (*decoder).command,
			"kind":       (*decoder).kind,
			"cwd":        func(d *decoder, l *layer, v *yaml.Node, p string) { putOK(&l.cwd, v)(d.raw(v, p, "a string")) },
			"env":        (*decoder).env,
			"env_file":   (*decoder).envFile,
			"user":       func(d *decoder, l *layer, v *yaml.Node, p string) { putOK(&l.user, v)(d.credentials(v, p)) },
			"group":      (*decoder).serviceGroup,
			"umask":      (*decoder).umask,
			"rlimits":    (*decoder).rlimits,
			"autostart":  func(d *decoder, l *layer, v *yaml.Node, p string) { putOK(&l.autostart, v)(d.boolean(v, p)) },
			"restart":    func(d *decoder, l *layer, v *yaml.Node, p string) { walk(d, v, p, &restartTable, l) },
			"stop":       func(d *decoder, l *layer, v *yaml.Node, p string) { walk(d, v, p, &stopTable, l) },
			"logs":       func(d *decoder, l *layer, v *yaml.Node, p string) { walk(d, v, p, &logsTable, l) },
			"depends_on": (*decoder).dependsOn,
			"schedule":   (*decoder).schedule,
			"replicas":   (*decoder).replicas,
			"ready":      func(d *decoder, l *layer, v *yaml.Node, p string) { d.probeBlock(l.ready, v, p) },
			"health":     func(d *decoder, l *layer, v *yaml.Node, p string) { d.probeBlock(l.health, v, p) },
			"pidfile":    (*decoder).pidfile,
			"match":      (*decoder).match,
			"unit":       (*decoder).unit,
			"start":      (*decoder).start,
			"listen":     (*decoder).listen,
			"backlog":    (*decoder).backlog,
		}
	},
}

var restartTable = table[layer]{build: func() map[string]layerKey {
	return map[string]layerKey{
		"policy": func(d *decoder, l *layer, v *yaml.Node, p string) {
			s, ok := d.oneOf(v, p, string(RestartAlways), string(RestartOnFailure), string(RestartNever))
			putOK(&l.policy, v)(RestartPolicy(s), ok)
		},
		"success_codes": (*decoder).successCodes,
		"backoff":       func(d *decoder, l *layer, v *yaml.Node, p string) { walk(d, v, p, &backoffTable, l) },
		"limit":         func(d *decoder, l *layer, v *yaml.Node, p string) { walk(d, v, p, &limitTable, l) },
		"reset_after":   func(d *decoder, l *layer, v *yaml.Node, p string) { putOK(&l.resetAfter, v)(d.duration(v, p)) },
		"cooldown":      func(d *decoder, l *layer, v *yaml.Node, p string) { putOK(&l.cooldown, v)(d.duration(v, p)) },
		"strategy": func(d *decoder, l *layer, v *yaml.Node, p string) {
			s, ok := d.oneOf(v, p, string(StopFirst), string(StartFirst))
			putOK(&l.strategy, v)(RestartStrategy(s), ok)
		},
		"max_unavailable": func(d *decoder, l *layer, v *yaml.Node, p string) {
			putOK(&l.maxUnavailable, v)(d.integer(v, p, 1, math.MaxInt32))
		},
	}
}}

var backoffTable = table[layer]{build: func() map[string]layerKey {
	return map[string]layerKey{
		"initial": func(d *decoder, l *layer, v *yaml.Node, p string) { putOK(&l.initial, v)(d.duration(v, p)) },
		"max":     func(d *decoder, l *layer, v *yaml.Node, p string) { putOK(&l.max, v)(d.duration(v, p)) },
		"factor": func(d *decoder, l *layer, v *yaml.Node, p string) {
			putOK(&l.factor, v)(d.number(v, p, 1, math.Inf(1)))
		},
		"jitter": func(d *decoder, l *layer, v *yaml.Node, p string) { putOK(&l.jitter, v)(d.number(v, p, 0, 1)) },
	}
}}

var limitTable = table[layer]{build: func() map[string]layerKey {
	return map[string]layerKey{
		"burst": func(d *decoder, l *layer, v *yaml.Node, p string) {
			putOK(&l.burst, v)(d.integer(v, p, 0, math.MaxInt))
		},
		"window": func(d *decoder, l *layer, v *yaml.Node, p string) { putOK(&l.window, v)(d.duration(v, p)) },
	}
}}

var stopTable = table[layer]{build: func() map[string]layerKey {
	return map[string]layerKey{
		"signal":  (*decoder).signal,
		"timeout": func(d *decoder, l *layer, v *yaml.Node, p string) { putOK(&l.timeout, v)(d.duration(v, p)) },
		"command": (*decoder).stopCommand,
	}
}}

var logsTable = table[layer]{build: func() map[string]layerKey {
	return map[string]layerKey{
		"max_size": func(d *decoder, l *layer, v *yaml.Node, p string) { putOK(&l.maxSize, v)(d.positiveSize(v, p)) },
		"max_files": func(d *decoder, l *layer, v *yaml.Node, p string) {
			putOK(&l.maxFiles, v)(d.integer(v, p, 1, math.MaxInt))
		},
	}
}}

// putOK stores a value read by a decoder method when the read succeeded.
func putOK[T any](f *field[T], at *yaml.Node) func(v T, ok bool) {
	return func(v T, ok bool) {
		if ok {
			f.put(v, at)
		}
	}
}

func (d *decoder) command(l *layer, v *yaml.Node, path string) {
	l.commandWritten = true
	if l.defaults {
		d.errorf(resolve(v), "%s: a command cannot be set in defaults; give each service its own", path)
		return
	}
	if c, ok := d.rawArgv(v, path); ok {
		l.command.put(c, v)
	}
}

// rawArgv reads a command as written, a string or a list of strings, for
// expanding later: ok is false when it is not one (the error is recorded).
func (d *decoder) rawArgv(v *yaml.Node, path string) (c rawCommand, ok bool) {
	n := resolve(v)
	switch n.Kind {
	case yaml.ScalarNode:
		s, ok := d.raw(n, path, "a string or a list of strings")
		if !ok {
			return c, false
		}
		if strings.TrimSpace(s) == "" {
			d.errorf(n, "%s: must not be empty", path)
			return c, false
		}
		return rawCommand{str: n}, true
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			d.errorf(n, "%s: must not be empty", path)
			return c, false
		}
		ok := true
		for i, item := range n.Content {
			if _, good := d.raw(item, path+"["+strconv.Itoa(i)+"]", "a string"); !good {
				ok = false
			}
		}
		return rawCommand{list: n.Content}, ok
	default:
		d.typeError(n, path, "a string or a list of strings")
		return c, false
	}
}

func (d *decoder) kind(l *layer, v *yaml.Node, path string) {
	l.kindWritten = true
	s, ok := d.text(v, path, "a kind")
	if !ok {
		return
	}
	switch Kind(s) {
	case KindProcess, KindOneshot, KindForking, KindExternal:
		l.kind.put(Kind(s), v)
	default:
		d.errorf(resolve(v), "%s: %q is not one of process, oneshot, forking, external", path, shorten(s))
	}
}

func (d *decoder) env(l *layer, v *yaml.Node, path string) {
	pairs, _ := d.mapping(v, path)
	for _, p := range pairs {
		if !validName(p.name) {
			d.errorf(p.key, "%s: invalid variable name %q (use letters, digits and '_', not starting with a digit)", path, shorten(p.name))
			continue
		}
		if isNull(resolve(p.val)) {
			l.env[p.name] = envEntry{at: resolve(p.val)}
			continue
		}
		if s, ok := d.raw(p.val, join(path, p.name), "a string"); ok {
			l.env[p.name] = envEntry{raw: s, at: resolve(p.val)}
		}
	}
}

func (d *decoder) umask(l *layer, v *yaml.Node, path string) {
	s, ok := d.text(v, path, "an octal number")
	if !ok {
		return
	}
	digits := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0o"), "0O")
	m, err := strconv.ParseUint(digits, 8, 32)
	if err != nil || digits == "" {
		d.errorf(resolve(v), "%s: expected an octal number such as 022, got %q", path, shorten(s))
		return
	}
	if m > 0o777 {
		d.errorf(resolve(v), "%s: %s is more than 0777", path, s)
		return
	}
	l.umask.put(uint32(m), v)
}

func (d *decoder) successCodes(l *layer, v *yaml.Node, path string) {
	items, ok := d.list(v, path, "a list of exit codes")
	if !ok {
		return
	}
	if len(items) == 0 {
		d.errorf(resolve(v), "%s: must list at least one exit code", path)
		return
	}
	codes := make([]int, 0, len(items))
	for i, item := range items {
		c, good := d.integer(item, path+"["+strconv.Itoa(i)+"]", 0, 255)
		ok = ok && good
		codes = append(codes, c)
	}
	if ok {
		l.successCodes.put(codes, v)
	}
}

func (d *decoder) signal(l *layer, v *yaml.Node, path string) {
	s, ok := d.text(v, path, "a signal name")
	if !ok {
		return
	}
	name, ok := parseSignal(s)
	if !ok {
		d.errorf(resolve(v), "%s: unknown signal %q", path, shorten(s))
		return
	}
	l.signal.put(name, v)
}

func (d *decoder) positiveSize(v *yaml.Node, path string) (int64, bool) {
	n, ok := d.size(v, path)
	if ok && n == 0 {
		d.errorf(resolve(v), "%s: must be more than 0", path)
		return 0, false
	}
	return n, ok
}

var serviceName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`) })

const maxNameLen = 64

// checkName reports what is wrong with a service name, if anything.
func (d *decoder) checkName(k *yaml.Node, name string) bool {
	if name == "all" {
		d.errorf(k, `services: "all" cannot name a service: commands use it to mean every service`)
		return false
	}
	if msg := nameProblem("service", name); msg != "" {
		d.errorf(k, "services: %s", msg)
		return false
	}
	return true
}

// nameProblem says what is wrong with the name of a service or of a
// service group (what says which), or returns "".
func nameProblem(what, name string) string {
	switch {
	case len(name) > maxNameLen:
		return fmt.Sprintf("%s name %q is longer than %d characters", what, shorten(name), maxNameLen)
	case !serviceName().MatchString(name):
		return fmt.Sprintf("invalid %s name %q (use letters, digits, '_', '.' and '-', starting with a letter or digit)", what, shorten(name))
	case strings.Contains(name, ".."):
		return fmt.Sprintf(`%s name %q must not contain ".."`, what, name)
	}
	return ""
}

func (d *decoder) schedule(l *layer, v *yaml.Node, path string) {
	if l.defaults {
		d.errorf(resolve(v), "%s: schedule cannot be set in defaults; set it per service", path)
		return
	}
	s, ok := d.text(v, path, "a schedule")
	if !ok {
		return
	}
	sc, err := ParseSchedule(s)
	if err != nil {
		d.errorAt(resolve(v), err, "%s: %v", path, err)
		return
	}
	l.schedule.put(sc, v)
}

// maxReplicas bounds replicas: each instance is a process tree, a log and
// a row in status.
const maxReplicas = 1000

func (d *decoder) replicas(l *layer, v *yaml.Node, path string) {
	if l.defaults {
		d.errorf(resolve(v), "%s: replicas cannot be set in defaults; set it per service", path)
		return
	}
	putOK(&l.replicas, v)(d.integer(v, path, 1, maxReplicas))
}
