package config

import (
	"cmp"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Built-in probe defaults, from the product contract.
const (
	defaultReadyInterval  = time.Second
	defaultHealthInterval = 10 * time.Second
	defaultProbeTimeout   = time.Second
	defaultFailures       = 3
	defaultDeadline       = 60 * time.Second
)

// probeLayer holds the keys of one `ready` or `health` block as written in
// one place (the defaults or a service). Values that name something to
// probe are kept unexpanded: a replica's ${RESPAWN_INSTANCE} and a
// service's env_file variables are known only per service.
type probeLayer struct {
	health bool
	// path is the block's own path ("defaults.ready", "services.db.ready"),
	// for messages about values written in it.
	path string
	// written is the block's node; nil when the block was not written.
	written *yaml.Node

	// writesKind is true when the block writes any probe kind key, even
	// notify: false or a value that is wrong. Such a block replaces the
	// kind from the defaults as a whole, so a service can swap the
	// defaults' http probe for tcp.
	writesKind bool
	kindKeys   []probeKind
	// kindErr is true when a probe kind key was rejected (and reported).
	kindErr bool

	exec   field[rawCommand]
	http   field[string]
	tcp    field[string]
	log    field[string]
	notify field[bool]

	interval  field[time.Duration]
	timeout   field[time.Duration]
	failures  field[int]
	deadline  field[time.Duration]
	memoryMax field[int64]
	watchdog  field[time.Duration]
}

func (p *probeLayer) name() string {
	if p.health {
		return "health"
	}
	return "ready"
}

// kindNames lists the probe kinds a block may take, for messages.
func (p *probeLayer) kindNames() string {
	if p.health {
		return "exec, http, tcp, notify"
	}
	return "exec, http, tcp, log, notify"
}

// probeKind is one probe kind written in a block.
type probeKind struct {
	name string
	at   *yaml.Node
}

// kinds returns the probe kinds the block names, in file order, whether or
// not their values are good; notify counts only when true.
func (p *probeLayer) kinds() []probeKind {
	ks := slices.Clone(p.kindKeys)
	slices.SortFunc(ks, func(a, b probeKind) int {
		return cmp.Or(cmp.Compare(a.at.Line, b.at.Line), cmp.Compare(a.at.Column, b.at.Column))
	})
	return ks
}

// kindKey notes that the block names a probe kind.
func (p *probeLayer) kindKey(name string, v *yaml.Node) {
	p.writesKind = true
	p.kindKeys = append(p.kindKeys, probeKind{name, resolve(v)})
}

// kindOK is putOK for a probe kind's value, noting one that was rejected.
func kindOK[T any](p *probeLayer, f *field[T], at *yaml.Node) func(v T, ok bool) {
	return func(v T, ok bool) {
		if !ok {
			p.kindErr = true
			return
		}
		f.put(v, at)
	}
}

type probeKey = func(d *decoder, p *probeLayer, v *yaml.Node, path string)

var probeTable = table[probeLayer]{build: func() map[string]probeKey {
	return map[string]probeKey{
		"exec": func(d *decoder, p *probeLayer, v *yaml.Node, path string) {
			p.kindKey("exec", v)
			kindOK(p, &p.exec, v)(d.rawArgv(v, path))
		},
		"http": func(d *decoder, p *probeLayer, v *yaml.Node, path string) {
			p.kindKey("http", v)
			kindOK(p, &p.http, v)(d.probeTarget(v, path, checkHTTP))
		},
		"tcp": func(d *decoder, p *probeLayer, v *yaml.Node, path string) {
			p.kindKey("tcp", v)
			kindOK(p, &p.tcp, v)(d.probeTarget(v, path, checkTCP))
		},
		"log": func(d *decoder, p *probeLayer, v *yaml.Node, path string) {
			if p.health {
				p.writesKind, p.kindErr = true, true
				d.errorf(resolve(v), "%s: only ready takes log: output tells that a service started, not that it is still alive", path)
				return
			}
			p.kindKey("log", v)
			kindOK(p, &p.log, v)(d.probeTarget(v, path, checkLog))
		},
		"notify": func(d *decoder, p *probeLayer, v *yaml.Node, path string) {
			p.writesKind = true
			b, ok := d.boolean(v, path)
			if ok && b {
				p.kindKey("notify", v)
			}
			kindOK(p, &p.notify, v)(b, ok)
		},
		"interval": func(d *decoder, p *probeLayer, v *yaml.Node, path string) {
			putOK(&p.interval, v)(d.positiveDuration(v, path))
		},
		"timeout": func(d *decoder, p *probeLayer, v *yaml.Node, path string) {
			putOK(&p.timeout, v)(d.positiveDuration(v, path))
		},
		"failures": func(d *decoder, p *probeLayer, v *yaml.Node, path string) {
			if !p.health {
				d.errorf(resolve(v), "%s: only health takes failures; ready gives up after its deadline", path)
				return
			}
			putOK(&p.failures, v)(d.integer(v, path, 1, math.MaxInt))
		},
		"deadline": func(d *decoder, p *probeLayer, v *yaml.Node, path string) {
			if p.health {
				d.errorf(resolve(v), "%s: only ready takes deadline; health restarts after failures in a row", path)
				return
			}
			putOK(&p.deadline, v)(d.positiveDuration(v, path))
		},
		"memory_max": func(d *decoder, p *probeLayer, v *yaml.Node, path string) {
			if !p.health {
				d.errorf(resolve(v), "%s: only health takes memory_max", path)
				return
			}
			putOK(&p.memoryMax, v)(d.size(v, path))
		},
		"watchdog": func(d *decoder, p *probeLayer, v *yaml.Node, path string) {
			if !p.health {
				d.errorf(resolve(v), "%s: only health takes watchdog", path)
				return
			}
			putOK(&p.watchdog, v)(d.duration(v, path))
		},
	}
}}

// probeBlock reads a `ready` or `health` block into p. Two probe kinds in
// one block are reported here, once, where they are written.
func (d *decoder) probeBlock(p *probeLayer, v *yaml.Node, path string) {
	p.written, p.path = resolve(v), path
	walk(d, v, path, &probeTable, p)
	if ks := p.kinds(); len(ks) > 1 {
		names := make([]string, len(ks))
		for i, k := range ks {
			names[i] = k.name
		}
		d.errorf(ks[1].at, "%s: takes exactly one of %s; got %s", path, p.kindNames(), strings.Join(names, " and "))
	}
}

// probeTarget reads the value of http, tcp or log unexpanded. A value
// without references is checked now, so that a mistake in the defaults is
// reported even when no service uses it; the rest are checked per service
// once expanded.
func (d *decoder) probeTarget(v *yaml.Node, path string, check func(string) (string, error)) (string, bool) {
	s, ok := d.raw(v, path, "a string")
	if !ok {
		return "", false
	}
	if !strings.Contains(s, "$") {
		if msg, err := check(s); msg != "" {
			d.errorAt(resolve(v), err, "%s: %s", path, msg)
			return "", false
		}
	}
	return s, true
}

func (d *decoder) positiveDuration(v *yaml.Node, path string) (time.Duration, bool) {
	t, ok := d.duration(v, path)
	if ok && t == 0 {
		d.errorf(resolve(v), "%s: must be more than 0", path)
		return 0, false
	}
	return t, ok
}

// finalProbe lays own over base key by key, except that the probe kind
// comes whole from one of them, expands what is probed with lookup (the
// variables a command sees) and checks what spans several keys. svcPath is
// the service's path. It returns nil when the service has no such probe or
// something is wrong (then the error is recorded).
func (d *decoder) finalProbe(own, base *probeLayer, lookup func(string) (string, bool), svcPath string) *Probe {
	if own.written == nil && base.written == nil {
		return nil
	}
	slot := base
	if own.writesKind {
		slot = own
	}
	ks := slot.kinds()
	if len(ks) > 1 || slot.kindErr {
		return nil // reported where the block is written
	}
	path := join(svcPath, own.name())

	p := &Probe{
		Timeout:  over(own.timeout, base.timeout, defaultProbeTimeout).val,
		Interval: over(own.interval, base.interval, defaultReadyInterval).val,
		Deadline: over(own.deadline, base.deadline, defaultDeadline).val,
	}
	memoryMax := over(own.memoryMax, base.memoryMax, 0)
	watchdog := over(own.watchdog, base.watchdog, 0)
	if own.health {
		p.Interval = over(own.interval, base.interval, defaultHealthInterval).val
		p.Deadline = 0
		p.Failures = over(own.failures, base.failures, defaultFailures).val
		p.MemoryMax, p.Watchdog = memoryMax.val, watchdog.val
	}

	if len(ks) == 0 {
		switch {
		case own.health && p.MemoryMax > 0 && p.Watchdog > 0:
			d.errorf(watchdog.at, "%s: needs notify: true", join(path, "watchdog"))
		case own.health && p.MemoryMax > 0:
			return p // memory only
		case own.health && own.memoryMax.at != nil:
			// memory_max: 0 written in the service turns off a limit
			// from the defaults, and with it the only check.
			return nil
		case own.written != nil && own.written.Kind == yaml.MappingNode:
			what := own.kindNames()
			if own.health {
				what += ", or memory_max"
			}
			d.errorf(own.written, "%s: needs one of %s", path, what)
		}
		// A block in the defaults without a kind only sets timings for
		// the services that name one.
		return nil
	}

	before := d.nerrs
	switch ks[0].name {
	case "exec":
		p.Exec = d.argv(slot.exec, lookup, join(slot.path, "exec"))
	case "http":
		p.HTTP, _ = d.finalTarget(slot.http, lookup, join(slot.path, "http"), checkHTTP)
	case "tcp":
		p.TCP, _ = d.finalTarget(slot.tcp, lookup, join(slot.path, "tcp"), checkTCP)
	case "log":
		if s, ok := d.finalTarget(slot.log, lookup, join(slot.path, "log"), checkLog); ok {
			p.Log = regexp.MustCompile(s) // checkLog compiled it
		}
	case "notify":
		p.Notify = true
	}
	if own.health {
		if p.Watchdog > 0 && !p.Notify {
			d.errorf(watchdog.at, "%s: needs notify: true (the probe is %s)", join(path, "watchdog"), ks[0].name)
		}
		if p.Notify && p.Watchdog == 0 {
			d.errorf(ks[0].at, "%s: needs watchdog, the longest time allowed between WATCHDOG=1 pings", join(path, "notify"))
		}
	}
	if d.nerrs > before {
		return nil
	}
	return p
}

// finalTarget expands the value of http, tcp or log and checks it.
func (d *decoder) finalTarget(f field[string], lookup func(string) (string, bool), path string, check func(string) (string, error)) (string, bool) {
	s, _ := expand(f.val, lookup) // syntax checked when read
	if msg, err := check(s); msg != "" {
		d.errorAt(f.at, err, "%s: %s", path, msg)
		return "", false
	}
	return s, true
}
