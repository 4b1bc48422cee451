// Package exporter converts a loaded respawn config into the service definitions of another engine.
package exporter

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/respawn-sh/respawn/internal/config"
)

// File is one file an export produces, named relative to the output dir.
type File struct {
	Name string
	Data []byte
}

// Result is what an export produces: its files, and one note per thing the
// target cannot express, so that nothing is lost without a word.
type Result struct {
	Files []File
	Notes []string
}

// Options are the choices an export needs beyond the config.
type Options struct {
	// Image is the container image every service runs in (compose,
	// kubernetes); respawn builds none.
	Image string
	// JSON asks kubernetes for a JSON List instead of YAML documents.
	JSON bool
	// LookPath resolves a program name without a slash, as respawn does at
	// spawn time, for the host engines (systemd, nomad's raw_exec), which
	// do not search respawn's PATH; nil leaves such names as written.
	LookPath func(string) (string, error)
}

// errNoImage: respawn runs programs on the host; a container engine needs
// the image that holds them.
var errNoImage = errors.New("an image is needed (--image): respawn does not build images")

// DefaultOptions resolves programs through this process's PATH.
func DefaultOptions() Options { return Options{LookPath: exec.LookPath} }

// notef records what a service loses: "SERVICE: KEY: why".
func (r *Result) notef(s *config.Service, key, format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf("%s: %s: %s", s.Name, key, fmt.Sprintf(format, args...)))
}

// project names the whole export after the config file: webapp.yaml → webapp.
func project(cfg *config.Config) string {
	base := filepath.Base(cfg.Path)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// program returns argv with its program made absolute where respawn would
// have found it: a relative path against cwd, a bare name through PATH.
func program(s *config.Service, argv []string, opt Options, r *Result) []string {
	out := append([]string(nil), argv...)
	switch p := out[0]; {
	case filepath.IsAbs(p):
	case strings.Contains(p, "/"):
		out[0] = filepath.Join(s.Cwd, p)
	case opt.LookPath != nil:
		if abs, err := opt.LookPath(p); err == nil {
			out[0] = abs
		} else {
			r.notef(s, "command", "%q is not in PATH here; left as written", p)
		}
	}
	return out
}

// noteSockets names what target loses of the sockets respawn holds for a
// service and of its start-first restarts; how says what takes their place.
func noteSockets(s *config.Service, r *Result, target, how string) {
	if len(s.Listen) > 0 {
		addrs := make([]string, len(s.Listen))
		for i, l := range s.Listen {
			addrs[i] = l.Addr
		}
		r.notef(s, "listen", "%s does not hold %s for the service and pass it as LISTEN_FDS: %s", target, strings.Join(addrs, ", "), how)
	}
	if s.Restart.Strategy == config.StartFirst {
		r.notef(s, "restart.strategy", "%s restarts it stop-first", target)
	}
}

// splitEnv splits a KEY=VALUE entry of Service.Env.
func splitEnv(kv string) (string, string) {
	k, v, _ := strings.Cut(kv, "=")
	return k, v
}
