package importer

import (
	"fmt"
	"strings"
)

// iniFile is an INI file read as Python's configparser reads it for
// supervisord: sections in file order, keys lowercased, a repeated section
// merged into the first and a repeated key's later value winning.
type iniFile struct {
	path     string
	sections []*iniSection
}

type iniSection struct {
	name string
	keys []string // in file order, each once
	vals map[string]string
}

func (s *iniSection) get(k string) (string, bool) {
	v, ok := s.vals[k]
	return v, ok
}

func (s *iniSection) has(k string) bool { _, ok := s.vals[k]; return ok }

// readINI parses path. Lines starting with ; or # are comments, as is the
// rest of a line from a ; or # that follows whitespace; a line that starts
// with whitespace continues the value above it; keys end at = or :.
func readINI(path string) (*iniFile, error) {
	data, err := readSource(path)
	if err != nil {
		return nil, err
	}
	f := &iniFile{path: path}
	var sec *iniSection
	lastKey := ""
	for i, raw := range strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n") {
		line := stripInlineComment(raw)
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
			// A blank line ends a value; a comment line inside one does not.
			if trimmed == "" {
				lastKey = ""
			}
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && lastKey != "" {
			sec.vals[lastKey] += "\n" + trimmed
			continue
		}
		if trimmed[0] == '[' {
			end := strings.IndexByte(trimmed, ']')
			if end < 0 {
				return nil, fmt.Errorf("%s:%d: section header without ]: %q", path, i+1, trimmed)
			}
			sec = f.section(strings.TrimSpace(trimmed[1:end]))
			lastKey = ""
			continue
		}
		if sec == nil {
			return nil, fmt.Errorf("%s:%d: %q is outside any [section]", path, i+1, trimmed)
		}
		cut := strings.IndexAny(trimmed, "=:")
		if cut <= 0 {
			return nil, fmt.Errorf("%s:%d: expected key = value, got %q", path, i+1, trimmed)
		}
		k := strings.ToLower(strings.TrimSpace(trimmed[:cut]))
		if _, seen := sec.vals[k]; !seen {
			sec.keys = append(sec.keys, k)
		}
		sec.vals[k] = strings.TrimSpace(trimmed[cut+1:])
		lastKey = k
	}
	return f, nil
}

func (f *iniFile) section(name string) *iniSection {
	for _, s := range f.sections {
		if s.name == name {
			return s
		}
	}
	s := &iniSection{name: name, vals: map[string]string{}}
	f.sections = append(f.sections, s)
	return s
}

// stripInlineComment cuts a line at a ; or # that follows whitespace.
func stripInlineComment(line string) string {
	for i := 1; i < len(line); i++ {
		if (line[i] == ';' || line[i] == '#') && (line[i-1] == ' ' || line[i-1] == '\t') {
			return strings.TrimRight(line[:i], " \t")
		}
	}
	return line
}
