package config

import (
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// rawDep is one depends_on entry as read. Whether its name is a service,
// and what kind that service is, is known only once every service is read.
type rawDep struct {
	Dependency
	name *yaml.Node // the name as written
	cond *yaml.Node // the condition as written; nil when it defaulted to started
	path string     // the depends_on key's path
}

// depNode is one service in the dependency graph.
type depNode struct {
	name string
	kind Kind
	// kindKnown is false when the kind was written wrong (and reported):
	// then whether the service is a oneshot is not known.
	kindKnown bool
	deps      []rawDep
}

var conditions = []string{string(CondStarted), string(CondReady), string(CondCompleted)}

var depTable = table[rawDep]{build: func() map[string]func(*decoder, *rawDep, *yaml.Node, string) {
	return map[string]func(*decoder, *rawDep, *yaml.Node, string){
		"condition": (*decoder).condition,
		"restart": func(d *decoder, dep *rawDep, v *yaml.Node, p string) {
			if b, ok := d.boolean(v, p); ok {
				dep.Restart = b
			}
		},
	}
}}

// dependsOn reads the three forms of depends_on: a mapping of name to
// condition, a mapping of name to {condition, restart}, and a list of names.
func (d *decoder) dependsOn(l *layer, v *yaml.Node, path string) {
	n := resolve(v)
	if l.defaults {
		d.errorf(n, "%s: depends_on cannot be set in defaults; dependencies are per service", path)
		return
	}
	var deps []rawDep
	switch n.Kind {
	case yaml.MappingNode:
		pairs, _ := d.mapping(n, path)
		for _, p := range pairs {
			deps = append(deps, d.dependency(p, path))
		}
	case yaml.SequenceNode:
		first := map[string]*yaml.Node{}
		for i, item := range n.Content {
			item = resolve(item)
			if item == nil || item.Kind != yaml.ScalarNode || isNull(item) {
				d.typeError(item, path+"["+strconv.Itoa(i)+"]", "a service name")
				continue
			}
			if f, dup := first[item.Value]; dup {
				d.errorf(item, "%s: %q is listed twice (first at line %d)", path, shorten(item.Value), f.Line)
				continue
			}
			first[item.Value] = item
			deps = append(deps, rawDep{Dependency: Dependency{Name: item.Value, Condition: CondStarted}, name: item, path: path})
		}
	default:
		d.typeError(n, path, "a mapping or a list of service names")
	}
	// Entries read well are kept even when others were not, so that names
	// and cycles are checked, and reported, in the same run.
	l.deps.put(deps, v)
}

// dependency reads one entry of the mapping form. A null value, like a
// missing condition, means started.
func (d *decoder) dependency(p pair, path string) rawDep {
	dep := rawDep{Dependency: Dependency{Name: p.name, Condition: CondStarted}, name: p.key, path: path}
	at := join(path, p.name)
	switch v := resolve(p.val); {
	case isNull(v):
	case v.Kind == yaml.ScalarNode:
		d.condition(&dep, v, at)
	case v.Kind == yaml.MappingNode:
		walk(d, v, at, &depTable, &dep)
	default:
		d.typeError(v, at, "a condition or a mapping")
	}
	return dep
}

func (d *decoder) condition(dep *rawDep, v *yaml.Node, path string) {
	if s, ok := d.oneOf(v, path, conditions...); ok {
		dep.Condition, dep.cond = Condition(s), resolve(v)
	}
}

// checkDeps reports dependencies on names that are not services, on the
// service itself, "completed" on a service that is not a oneshot, and
// cycles. declared holds every service name in the file, including those
// of services with mistakes of their own, so that one mistake is not
// reported again at every reference.
//
// A name may also be one instance of a replicated service (origin maps it
// to the service as written): the entry then depends on that instance
// alone, and counts as a dependency on its service for the checks.
func (d *decoder) checkDeps(nodes []*depNode, declared []string, origin map[string]string) {
	index := make(map[string]*depNode, len(nodes)+len(origin))
	for _, n := range nodes {
		index[n.name] = n
	}
	known := make(map[string]bool, len(declared)+len(origin))
	for _, name := range declared {
		known[name] = true
	}
	for inst, of := range origin {
		if !known[inst] { // a collision, reported by checkCollisions
			known[inst], index[inst] = true, index[of]
		}
	}
	for _, n := range nodes {
		for _, dep := range n.deps {
			target := index[dep.Name]
			switch {
			case dep.Name == n.name || target == n:
				d.errorf(dep.name, "%s: %s cannot depend on itself", dep.path, n.name)
			case !known[dep.Name]:
				others := slices.DeleteFunc(slices.Clone(declared), func(s string) bool { return s == n.name })
				if s := suggest(dep.Name, others); s != "" {
					d.errorf(dep.name, "%s: unknown service %q (did you mean %q?)", dep.path, shorten(dep.Name), s)
				} else {
					d.errorf(dep.name, "%s: unknown service %q", dep.path, shorten(dep.Name))
				}
			case dep.Condition == CondCompleted && target != nil && target.kindKnown && target.kind != KindOneshot:
				d.errorf(dep.cond, "%s: completed needs a oneshot: %s is a %s", join(dep.path, dep.Name), dep.Name, target.kind)
			}
		}
	}
	d.checkCycles(nodes, index)
}

// checkCycles walks the graph depth first, services and their entries in
// file order, and reports every entry that leads back to a service still
// being walked: such an entry closes a cycle. Each cycle so found is
// reported once, at the entry that closes it, and the entries reported are
// enough to break every cycle in the graph: with them removed what is left
// has none.
func (d *decoder) checkCycles(nodes []*depNode, index map[string]*depNode) {
	const (
		unvisited = iota
		walking
		done
	)
	state := make(map[*depNode]int, len(nodes))
	var stack []string
	var visit func(n *depNode)
	visit = func(n *depNode) {
		state[n] = walking
		stack = append(stack, n.name)
		for _, dep := range n.deps {
			target := index[dep.Name]
			if target == nil || target == n {
				continue // reported by checkDeps
			}
			switch state[target] {
			case unvisited:
				visit(target)
			case walking:
				i := slices.Index(stack, target.name)
				cycle := append([]string{n.name}, stack[i:]...)
				d.errorf(dep.name, "%s: dependency cycle: %s", join(dep.path, dep.Name), strings.Join(cycle, " → "))
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
	}
	for _, n := range nodes {
		if state[n] == unvisited {
			visit(n)
		}
	}
}
