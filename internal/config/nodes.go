package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// pair is one key and its value in a mapping, after merge keys are applied.
type pair struct {
	key, val *yaml.Node
	name     string
}

// resolve follows an alias to the node it names. YAML allows no anchor on
// an alias, so one step is enough; the loop only guards against a
// hand-built tree.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch {
	case n == nil || isNull(n):
		return "null"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode:
		return fmt.Sprintf("%q", shorten(n.Value))
	}
	return "an unexpected YAML node"
}

// shorten keeps quoted values in messages to one readable line.
func shorten(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + "..."
	}
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// typeError reports that the value at path is not of the wanted shape.
func (d *decoder) typeError(n *yaml.Node, path, want string) {
	d.errorf(n, "%s: expected %s, got %s", pathOr(path), want, describe(n))
}

// mapping returns the pairs of the mapping at n, in file order, with merge
// keys (<<) applied. Null counts as an empty mapping. ok is false when n is
// not a mapping; the error is already recorded.
func (d *decoder) mapping(n *yaml.Node, path string) (pairs []pair, ok bool) {
	n = resolve(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.typeError(n, path, "a mapping")
		return nil, false
	}
	return d.pairs(n, path), true
}

// pairs applies merge keys and rejects duplicate keys. Results are kept per
// node: an anchor merged into many places is checked, and reported, once,
// and a document built to blow up through nested merges costs linear time.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	if ps, ok := d.merged[n]; ok {
		return ps
	}
	if d.merging[n] {
		d.errorf(n, "%s: merge key (<<) makes this mapping include itself", path)
		return nil
	}
	d.merging[n] = true
	defer delete(d.merging, n)

	// Keys written in the mapping win over merged ones, so collect them first.
	own := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if isMergeKey(k) || k == nil || k.Kind != yaml.ScalarNode {
			continue
		}
		if first, dup := own[k.Value]; dup {
			d.errorf(k, "%s: duplicate key %q (first at line %d)", path, k.Value, first.Line)
			continue
		}
		own[k.Value] = k
	}

	var out []pair
	have := map[string]bool{}
	add := func(p pair) {
		if !have[p.name] {
			have[p.name] = true
			out = append(out, p)
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		switch {
		case k == nil || k.Kind != yaml.ScalarNode:
			d.errorf(n.Content[i], "%s: a key must be a plain string, got %s", path, describe(k))
		case isMergeKey(k):
			for _, src := range d.mergeSources(v, path) {
				for _, p := range src {
					if own[p.name] == nil {
						add(p)
					}
				}
			}
		case own[k.Value] == k:
			add(pair{key: k, val: v, name: k.Value})
		}
	}
	d.merged[n] = out
	return out
}

func isMergeKey(k *yaml.Node) bool {
	return k != nil && k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge"
}

// mergeSources returns the mappings a merge key's value names: one mapping,
// or a list of them where earlier ones win.
func (d *decoder) mergeSources(v *yaml.Node, path string) [][]pair {
	v = resolve(v)
	switch {
	case v != nil && v.Kind == yaml.MappingNode:
		return [][]pair{d.pairs(v, path)}
	case v != nil && v.Kind == yaml.SequenceNode:
		var srcs [][]pair
		for _, item := range v.Content {
			item = resolve(item)
			if item == nil || item.Kind != yaml.MappingNode {
				d.errorf(item, "%s: a merge key (<<) takes a mapping or a list of mappings, got %s", path, describe(item))
				continue
			}
			srcs = append(srcs, d.pairs(item, path))
		}
		return srcs
	}
	d.errorf(v, "%s: a merge key (<<) takes a mapping or a list of mappings, got %s", path, describe(v))
	return nil
}

// table describes the keys one mapping accepts.
type table[T any] struct {
	// build makes the keys' map the first time a config is read: a map
	// literal at package level is built at every start of the binary,
	// which the commands that read no config pay for too.
	build func() map[string]func(d *decoder, t *T, v *yaml.Node, path string)
	once  sync.Once
	m     map[string]func(d *decoder, t *T, v *yaml.Node, path string)
	// extensions lets keys starting with "x-" through unread, a home for
	// YAML anchors.
	extensions bool
}

// walk hands each key of the mapping at n to its function in tb. A null
// value counts as absent, so "restart:" with nothing under it changes
// nothing. It returns the pairs it saw, for checks on required keys.
func walk[T any](d *decoder, n *yaml.Node, path string, tb *table[T], t *T) []pair {
	pairs, _ := d.mapping(n, path)
	for _, p := range pairs {
		fn, known := tb.keys()[p.name]
		switch {
		case known:
			if !isNull(resolve(p.val)) {
				fn(d, t, p.val, join(path, p.name))
			}
		case tb.extensions && strings.HasPrefix(p.name, "x-"):
		default:
			d.unknownKey(p.key, path, p.name, tb.names)
		}
	}
	return pairs
}

// keys returns the map of the table's keys to their functions.
func (tb *table[T]) keys() map[string]func(d *decoder, t *T, v *yaml.Node, path string) {
	tb.once.Do(func() { tb.m = tb.build() })
	return tb.m
}

func (tb *table[T]) names() []string {
	return slices.Sorted(maps.Keys(tb.keys()))
}

// unknownKey reports a key the table does not have; known lists those it
// has, called only when a suggestion is worth making.
func (d *decoder) unknownKey(k *yaml.Node, path, name string, known func() []string) {
	if d.nerrs >= MaxErrors {
		d.errorf(k, "") // only counted: spare the suggestion's work
		return
	}
	if s := suggest(name, known()); s != "" {
		d.errorf(k, "%s: unknown key %q (did you mean %q?)", pathOr(path), name, s)
		return
	}
	d.errorf(k, "%s: unknown key %q", pathOr(path), name)
}

// join builds the dotted path used in messages.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// pathOr names the top level, whose path is empty, in messages.
func pathOr(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}
