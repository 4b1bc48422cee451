package config

import (
	"errors"
	"fmt"
	"strings"
)

// errExpand marks a malformed ${...} reference.
var errExpand = errors.New("malformed ${...} reference")

// expand replaces ${NAME}, ${NAME:-default} and ${NAME-default} in s with
// values from lookup, and $$ with a single $. A $ followed by anything else
// is kept as written, so "sh -c 'echo $HOME'" reaches the shell intact.
// An unset NAME without a default expands to "", as in shells and compose
// files. Defaults may themselves hold references.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	if _, err := expandInto(&b, s, lookup, 0); err != nil {
		return "", fmt.Errorf("%w in %q: %w", errExpand, shorten(s), err)
	}
	return b.String(), nil
}

// maxNesting bounds defaults within defaults, which recurse.
const maxNesting = 16

// expandInto writes the expansion of s to b. Inside a default (depth > 0)
// it stops at the first unmatched "}" and returns what follows it.
func expandInto(b *strings.Builder, s string, lookup func(string) (string, bool), depth int) (rest string, err error) {
	if depth > maxNesting {
		return "", fmt.Errorf("defaults nested more than %d deep", maxNesting)
	}
	nested := depth > 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case nested && c == '}':
			return s[i+1:], nil
		case c != '$':
			b.WriteByte(c)
			i++
			continue
		case strings.HasPrefix(s[i:], "$$"):
			b.WriteByte('$')
			i += 2
			continue
		case !strings.HasPrefix(s[i:], "${"):
			b.WriteByte('$')
			i++
			continue
		}
		j := i + 2
		for j < len(s) && isNameByte(s[j], j == i+2) {
			j++
		}
		name := s[i+2 : j]
		if j == len(s) {
			return "", errors.New(`missing closing "}"`)
		}
		if name == "" {
			return "", errors.New(`"${" must be followed by a variable name (letters, digits and '_', not starting with a digit)`)
		}
		value, set := lookup(name)
		switch after := s[j:]; {
		case after[0] == '}':
			b.WriteString(value)
			i = j + 1
		case strings.HasPrefix(after, ":-") || after[0] == '-':
			colon := after[0] == ':'
			skip := 1
			if colon {
				skip = 2
			}
			var def strings.Builder
			tail, err := expandInto(&def, after[skip:], lookup, depth+1)
			if err != nil {
				return "", err
			}
			if !set || (colon && value == "") {
				value = def.String()
			}
			b.WriteString(value)
			i = len(s) - len(tail)
		default:
			return "", fmt.Errorf(`unexpected %q after "${%s" (want "}", ":-" or "-")`, after[0], name)
		}
	}
	if nested {
		return "", errors.New(`missing closing "}"`)
	}
	return "", nil
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9')
}

// validName reports whether s is usable as an environment variable name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return true
}
