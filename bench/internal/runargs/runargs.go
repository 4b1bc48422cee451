// Package runargs lets a bench helper run as a service directory's `run`
// file (s6, daemontools) without a shell in between.
package runargs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// File is where a service directory keeps its helper's arguments, one per
// line, next to the `run` symlink.
const File = "run.args"

// Args returns the helper's arguments: os.Args[1:], or, when it was started
// as `run` (a symlink in a service directory, which s6-supervise and
// daemontools' supervise start with the directory as the working
// directory), the lines of run.args there. A shell script as `run` would
// add an exec of /bin/sh to every start, which respawn and supervisord do
// not pay, and bias the start and gap scenarios against s6 and daemontools.
func Args() ([]string, error) {
	if filepath.Base(os.Args[0]) != "run" {
		return os.Args[1:], nil
	}
	b, err := os.ReadFile(File)
	if err != nil {
		return nil, fmt.Errorf("started as run: %w", err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil, nil
	}
	return strings.Split(s, "\n"), nil
}
