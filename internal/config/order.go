package config

import "slices"

// Order returns the service names in the order they are to be started:
// each service after everything it depends on and, among services whose
// dependencies are all placed, the one written first in the file first. A
// file without depends_on therefore starts in file order.
//
// Load never returns a config with a cycle or a dependency on an unknown
// name. In a Config built by hand, a dependency on an unknown name is
// ignored and the services of a cycle come last, in file order, so that
// every service is in the result exactly once.
func (c *Config) Order() []string {
	pos := make(map[string]int, len(c.Services))
	for i, s := range c.Services {
		pos[s.Name] = i
	}
	unplaced := make([]int, len(c.Services))     // dependencies not yet placed, per service
	dependents := make([][]int, len(c.Services)) // who waits on whom
	for i, s := range c.Services {
		for _, dep := range s.DependsOn {
			if j, ok := pos[dep.Name]; ok && j != i {
				unplaced[i]++
				dependents[j] = append(dependents[j], i)
			}
		}
	}
	// ready holds file positions, ascending: a priority queue small enough
	// that insertion into a sorted slice beats a heap.
	var ready []int
	for i, n := range unplaced {
		if n == 0 {
			ready = append(ready, i)
		}
	}
	names := make([]string, 0, len(c.Services))
	placed := make([]bool, len(c.Services))
	for len(ready) > 0 {
		i := ready[0]
		ready = ready[1:]
		names = append(names, c.Services[i].Name)
		placed[i] = true
		for _, j := range dependents[i] {
			if unplaced[j]--; unplaced[j] == 0 {
				at, _ := slices.BinarySearch(ready, j)
				ready = slices.Insert(ready, at, j)
			}
		}
	}
	for i, s := range c.Services {
		if !placed[i] {
			names = append(names, s.Name)
		}
	}
	return names
}

// Dependents returns the services that depend on name directly, in file
// order.
func (c *Config) Dependents(name string) []string {
	var names []string
	for _, s := range c.Services {
		if slices.ContainsFunc(s.DependsOn, func(d Dependency) bool { return d.Name == name }) {
			names = append(names, s.Name)
		}
	}
	return names
}
