package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"go.yaml.in/yaml/v3"
)

// decoder walks the YAML tree of one file and collects every problem.
type decoder struct {
	file      string // as given, for messages
	dir       string // absolute directory of the file
	lookupEnv func(string) (string, bool)
	errs      ErrorList
	// nerrs counts every error found, also those past MaxErrors that errs
	// does not keep; "did this add an error" compares it.
	nerrs int
	// unchecked counts the services left unread once MaxErrors was reached.
	unchecked int

	merged   map[*yaml.Node][]pair // mappings with merge keys applied
	merging  map[*yaml.Node]bool   // mappings being merged, to catch cycles
	envFiles map[string]*envFile   // by absolute path
	// listenOwners holds each listen address and the service that has it.
	listenOwners map[string]listenOwner
}

// Load reads the file at path, expands ${VAR} references, applies defaults,
// validates everything and returns the result. lookupEnv supplies the
// supervisor's environment (pass os.LookupEnv; nil means an empty one).
// When the file cannot be read the error is the wrapped *fs.PathError; when
// its content is wrong the error is an ErrorList naming every problem.
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data, lookupEnv)
}

// Parse is Load on content already read: path names the file in messages
// and anchors relative paths (state_dir, cwd, env_file). Env files are
// still read from disk.
func Parse(path string, data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config path %q: %w", path, err)
	}
	if lookupEnv == nil {
		lookupEnv = noEnv
	}
	d := &decoder{
		file:      path,
		dir:       filepath.Dir(abs),
		lookupEnv: lookupEnv,
		merged:    map[*yaml.Node][]pair{},
		merging:   map[*yaml.Node]bool{},
		envFiles:  map[string]*envFile{},
	}
	root, ok := d.parseYAML(data)
	if !ok {
		return nil, d.errs
	}
	c := &Config{Path: abs, Dir: d.dir}
	d.config(root, c)
	if d.nerrs > 0 {
		return nil, d.collected()
	}
	return c, nil
}

var yamlLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: (line \d+: )?`) })

// parseYAML returns the root node of the only document in data.
func (d *decoder) parseYAML(data []byte) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorf(nil, "the file is empty")
		} else {
			d.yamlError(data, err)
		}
		return nil, false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.errorf(&next, "only one YAML document is allowed, found a second")
		return nil, false
	case !errors.Is(err, io.EOF):
		d.yamlError(data, err)
		return nil, false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		d.errorf(nil, "the file is empty")
		return nil, false
	}
	return doc.Content[0], true
}

// yamlError turns a parser error into a positioned one. yaml.v3 gives at
// most a line, and for many errors it is the line before the construct in
// which the problem lies. The line reported here is the end of the shortest
// prefix of the file, in whole lines, that fails with the same message:
// the line where the parser met the problem. The column is unknown.
func (d *decoder) yamlError(data []byte, err error) {
	msg := yamlMessage(err)
	ends := lineEnds(data)
	fails := func(k int) bool {
		e := decodeAll(data[:ends[k-1]])
		return e != nil && yamlMessage(e) == msg
	}
	// Prefixes that stop before the problem parse, or fail differently;
	// the rest fail the same way, so a binary search finds the first.
	lo, hi := 1, len(ends)
	for lo < hi {
		if mid := (lo + hi) / 2; fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	d.nerrs++
	d.errs = append(d.errs, &Error{File: d.file, Line: lo, Col: 1, Msg: "invalid YAML: " + msg, Err: err})
}

// yamlMessage strips the "yaml: " and "line N: " prefixes.
func yamlMessage(err error) string {
	msg := err.Error()
	return msg[len(yamlLine().FindString(msg)):]
}

// lineEnds returns the offset just past each line of data.
func lineEnds(data []byte) []int {
	var ends []int
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	return ends
}

// decodeAll parses every document in data and returns the first error.
func decodeAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// top holds the top-level sections until all are seen: services need the
// defaults, wherever in the file they stand.
type top struct {
	version, supervisor, defaults, services, alerts *yaml.Node
}

var topTable = table[top]{
	build: func() map[string]func(*decoder, *top, *yaml.Node, string) {
		return map[string]func(*decoder, *top, *yaml.Node, string){
			"version":    func(_ *decoder, t *top, v *yaml.Node, _ string) { t.version = v },
			"supervisor": func(_ *decoder, t *top, v *yaml.Node, _ string) { t.supervisor = v },
			"defaults":   func(_ *decoder, t *top, v *yaml.Node, _ string) { t.defaults = v },
			"services":   func(_ *decoder, t *top, v *yaml.Node, _ string) { t.services = v },
			"alerts":     func(_ *decoder, t *top, v *yaml.Node, _ string) { t.alerts = v },
		}
	},
	extensions: true,
}

func (d *decoder) config(root *yaml.Node, c *Config) {
	var t top
	pairs := walk(d, root, "", &topTable, &t)
	present := map[string]*yaml.Node{}
	for _, p := range pairs {
		present[p.name] = p.key
	}
	root = resolve(root)
	if root.Kind != yaml.MappingNode && !isNull(root) {
		return // walk reported it
	}
	for _, key := range []string{"version", "services"} {
		if present[key] == nil {
			d.errorf(root, "missing required key %q", key)
		}
	}
	if k := present["version"]; k != nil && t.version == nil {
		d.errorf(k, "version: expected 1, got null")
	}
	if t.version != nil {
		if v, ok := d.integer(t.version, "version", math.MinInt, math.MaxInt); ok {
			if v != 1 {
				d.errorf(resolve(t.version), "version: unsupported version %d (this release reads version 1)", v)
			}
			c.Version = v
		}
	}
	c.Supervisor = d.supervisor(t.supervisor)
	defaults := newLayer(true)
	if t.defaults != nil {
		walk(d, t.defaults, "defaults", &serviceTable, defaults)
		d.crossCheck(defaults, newLayer(true), "defaults")
	}
	pairs, _ = d.mapping(t.services, "services")
	declared := make([]string, len(pairs))
	for i, p := range pairs {
		declared[i] = p.name
	}
	var graph []*depNode
	reps := newReplicated()
	var names []string
	var keys []*yaml.Node
	for i, p := range pairs {
		if d.nerrs >= MaxErrors {
			// Enough to act on: the rest would only cost time and memory.
			d.unchecked = len(pairs) - i
			return
		}
		if !d.checkName(p.key, p.name) {
			continue
		}
		names, keys = append(names, p.name), append(keys, p.key)
		path := "services." + p.name
		if v := resolve(p.val); !isNull(v) && v.Kind != yaml.MappingNode {
			d.typeError(v, path, "a mapping")
			continue
		}
		own := newLayer(false)
		walk(d, p.val, path, &serviceTable, own)
		graph = append(graph, &depNode{
			name:      p.name,
			kind:      over(own.kind, defaults.kind, KindProcess).val,
			kindKnown: kindKnown(own, defaults),
			deps:      own.deps.val,
		})
		reps.add(p.name, own.replicas)
		c.Services = append(c.Services, d.instances(p.name, p.key, own, defaults, path)...)
	}
	d.checkCollisions(reps, names, keys)
	d.checkDeps(graph, declared, reps.origin)
	reps.expandDeps(c.Services)
	c.Alerts = d.alerts(t.alerts, c.Services)
}
