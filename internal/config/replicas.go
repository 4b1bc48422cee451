package config

import (
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// instanceVar is set in each replica's environment to its number.
const instanceVar = "RESPAWN_INSTANCE"

// instanceName is the name of instance i of the service written as name.
func instanceName(name string, i int) string {
	return name + "." + strconv.Itoa(i)
}

// instances builds the services one entry of the file stands for: itself,
// or with replicas: N > 1, NAME.1 .. NAME.N in that order.
func (d *decoder) instances(name string, key *yaml.Node, own, base *layer, path string) []*Service {
	n := own.replicas
	if n.at == nil || n.val == 1 {
		// replicas: 1 keeps the name, and sets RESPAWN_INSTANCE=1 so that a
		// command written for replicas works with one instance too.
		inst := 0
		if n.at != nil {
			inst = 1
		}
		if s := d.service(name, key, own, base, path, inst); s != nil {
			return []*Service{s}
		}
		return nil
	}
	if !d.checkInstanceNames(name, n, path) {
		return nil
	}
	out := make([]*Service, 0, n.val)
	for i := 1; i <= n.val; i++ {
		s := d.service(name, key, own, base, path, i)
		if s == nil {
			return nil // every instance has the same mistakes: reported once
		}
		s.Name, s.ReplicaOf, s.Instance = instanceName(name, i), name, i
		out = append(out, s)
	}
	return out
}

// checkInstanceNames reports instance names that break the rules for
// service names. The number suffix keeps them within the allowed
// characters; only the length and ".." can go wrong.
func (d *decoder) checkInstanceNames(name string, n field[int], path string) bool {
	path = join(path, "replicas")
	switch last := instanceName(name, n.val); {
	case len(last) > maxNameLen:
		d.errorf(n.at, "%s: instance name %q would be longer than %d characters", path, last, maxNameLen)
	case name[len(name)-1] == '.':
		d.errorf(n.at, `%s: instance name %q would contain ".."`, path, instanceName(name, 1))
	default:
		return true
	}
	return false
}

// replicated records, for each service with replicas: N > 1, its instance
// names, so that names in the file can be checked against them and
// dependencies expanded.
type replicated struct {
	count  map[string]int    // service as written → N
	origin map[string]string // instance name → service as written
	at     map[string]*yaml.Node
}

func newReplicated() *replicated {
	return &replicated{count: map[string]int{}, origin: map[string]string{}, at: map[string]*yaml.Node{}}
}

func (r *replicated) add(name string, n field[int]) {
	if n.at == nil || n.val <= 1 {
		return
	}
	r.count[name], r.at[name] = n.val, n.at
	for i := 1; i <= n.val; i++ {
		r.origin[instanceName(name, i)] = name
	}
}

// checkCollisions reports every service whose name, as written, is also
// the name of another service's instance.
func (d *decoder) checkCollisions(r *replicated, names []string, keys []*yaml.Node) {
	for i, name := range names {
		if of, ok := r.origin[name]; ok {
			d.errorf(keys[i], "services: service name %q is also the name of an instance of %s (replicas: %d at line %d)",
				name, of, r.count[of], r.at[of].Line)
		}
	}
}

// expandDeps turns each dependency on a replicated service into one per
// instance, with the same condition and restart.
func (r *replicated) expandDeps(services []*Service) {
	if len(r.count) == 0 {
		return
	}
	for _, s := range services {
		var deps []Dependency
		for _, dep := range s.DependsOn {
			n, ok := r.count[dep.Name]
			if !ok {
				deps = append(deps, dep)
				continue
			}
			for i := 1; i <= n; i++ {
				one := dep
				one.Name = instanceName(dep.Name, i)
				deps = append(deps, one)
			}
		}
		s.DependsOn = slices.Clip(deps)
	}
}
