package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// envFile is one parsed env_file.
type envFile struct {
	vars []envVar // in file order; a later line wins over an earlier one
	err  error    // why it could not be read
	bad  []string // messages for lines that are not KEY=VALUE
}

type envVar struct{ name, value string }

func (d *decoder) envFile(l *layer, v *yaml.Node, path string) {
	n := resolve(v)
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	files := make([]*envFile, 0, len(items))
	ok := true
	for _, item := range items {
		name, good := d.text(item, path, "a path or a list of paths")
		if !good {
			ok = false
			continue
		}
		f := d.readEnvFile(d.abs(name))
		if f.err != nil {
			d.errorAt(resolve(item), f.err, "%s: %v", path, f.err)
			ok = false
			continue
		}
		for _, msg := range f.bad {
			d.errorf(resolve(item), "%s: %s:%s", path, name, msg)
			ok = false
		}
		files = append(files, f)
	}
	if ok {
		l.envFiles.put(files, v)
	}
}

// readEnvFile reads and parses a file once per load, however many services
// name it.
func (d *decoder) readEnvFile(path string) *envFile {
	if f, ok := d.envFiles[path]; ok {
		return f
	}
	f := &envFile{}
	d.envFiles[path] = f
	data, err := readRegular(path)
	if err != nil {
		f.err = err
		return f
	}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		name, value, found := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		switch {
		case !found:
			f.bad = append(f.bad, fmt.Sprintf("%d: expected KEY=VALUE, got %q", i+1, shorten(line)))
			continue
		case !validName(name):
			f.bad = append(f.bad, fmt.Sprintf("%d: invalid variable name %q", i+1, shorten(name)))
			continue
		}
		f.vars = append(f.vars, envVar{name, unquote(strings.TrimSpace(value))})
	}
	return f
}

// unquote removes one pair of matching single or double quotes around a
// value; what is inside is kept as it is.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// abs resolves a path written in the config against the config's directory.
func (d *decoder) abs(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(d.dir, p)
}

// errNotRegular refuses devices and pipes, which could block a load forever.
var errNotRegular = errors.New("not a regular file")

func readRegular(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errNotRegular}
	}
	return io.ReadAll(f)
}
