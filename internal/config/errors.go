package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a config file, with the position it was found at.
type Error struct {
	// File is the config path as given to Load or Parse.
	File string
	// Line and Col are 1-based.
	Line, Col int
	Msg       string
	// Err is the underlying cause when there is one (for example the
	// *fs.PathError of an env_file that cannot be read), so that errors.Is
	// and errors.As see through the list.
	Err error
}

// Error returns "FILE:LINE:COL: message".
func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// ErrorList holds every problem found in a config file, sorted by position.
// Load and Parse return it as a value (not a pointer), so a caller gets at
// the individual errors with:
//
//	var list config.ErrorList
//	if errors.As(err, &list) {
//		for _, e := range list { ... }
//	}
type ErrorList []*Error

// Error returns one "FILE:LINE:COL: message" line per problem.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes each *Error to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// ErrCommandSyntax is wrapped by SplitCommand's errors.
var ErrCommandSyntax = errors.New("invalid command")

// ErrInvalidSize is wrapped by ParseSize's errors.
var ErrInvalidSize = errors.New("invalid size")

// errorf records a problem at node n. A nil node stands for the top of the file.
func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errorAt(n, nil, format, args...)
}

// MaxErrors bounds the errors a Load or Parse collects: a file with a
// hundred thousand mistakes must not cost a gigabyte to report. Past it
// errors are only counted, services not yet read are left unchecked, and
// the list ends with an entry that says so ("and N more errors").
const MaxErrors = 100

// errorAt is errorf with an underlying cause kept for errors.Is.
func (d *decoder) errorAt(n *yaml.Node, cause error, format string, args ...any) {
	d.nerrs++
	if len(d.errs) >= MaxErrors {
		return
	}
	line, col := 1, 1
	if n != nil && n.Line > 0 {
		line, col = n.Line, max(n.Column, 1)
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...), Err: cause})
}

// collected returns the errors found, sorted, with a last entry counting
// those past MaxErrors and the services left unchecked.
func (d *decoder) collected() ErrorList {
	out := d.errs.sorted()
	more := d.nerrs - len(d.errs)
	var msg string
	switch {
	case d.unchecked > 0 && more > 0:
		msg = fmt.Sprintf("and %d more errors; checking stopped there: %d more services were not checked", more, d.unchecked)
	case d.unchecked > 0:
		msg = fmt.Sprintf("checking stopped after %d errors: %d more services were not checked", MaxErrors, d.unchecked)
	case more > 0:
		msg = fmt.Sprintf("and %d more errors (only the first %d are listed)", more, MaxErrors)
	default:
		return out
	}
	last := out[len(out)-1]
	return append(out, &Error{File: d.file, Line: last.Line, Col: last.Col, Msg: msg})
}

// sorted orders the errors by position and drops repeats, which arise
// when one shared piece of YAML is looked at from several places.
func (l ErrorList) sorted() ErrorList {
	type key struct {
		line, col int
		msg       string
	}
	seen := make(map[key]bool, len(l))
	out := make(ErrorList, 0, len(l))
	for _, e := range l {
		k := key{e.Line, e.Col, e.Msg}
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	return out
}
