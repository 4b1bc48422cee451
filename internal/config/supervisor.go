package config

import (
	"math"
	"net"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var supervisorTable = table[Supervisor]{build: func() map[string]func(*decoder, *Supervisor, *yaml.Node, string) {
	return map[string]func(*decoder, *Supervisor, *yaml.Node, string){
		"state_dir": func(d *decoder, s *Supervisor, v *yaml.Node, p string) {
			if dir, ok := d.str(v, p); ok {
				if dir == "" {
					d.errorf(resolve(v), "%s: must not be empty", p)
					return
				}
				s.StateDir = d.abs(dir)
			}
		},
		"log": func(d *decoder, s *Supervisor, v *yaml.Node, p string) { walk(d, v, p, &logTable, &s.Log) },
		"core_timeout": func(d *decoder, s *Supervisor, v *yaml.Node, p string) {
			if t, ok := d.positiveDuration(v, p); ok {
				s.CoreTimeout = t
			}
		},
		"containment": func(d *decoder, s *Supervisor, v *yaml.Node, p string) {
			if c, ok := d.oneOf(v, p, "auto", "cgroup", "process-group"); ok {
				s.Containment = c
			}
		},
		"platform": func(d *decoder, s *Supervisor, v *yaml.Node, p string) {
			if c, ok := d.oneOf(v, p, "auto", "linux", "posix"); ok {
				s.Platform = c
			}
		},
		"api": func(d *decoder, s *Supervisor, v *yaml.Node, p string) { walk(d, v, p, &apiTable, &s.API) },
		"http": func(d *decoder, s *Supervisor, v *yaml.Node, p string) {
			h := HTTPSettings{Listen: defaultHTTPListen}
			pairs := walk(d, v, p, &httpTable, &h)
			written := slices.ContainsFunc(pairs, func(kv pair) bool { return kv.name == "token_file" && !isNull(resolve(kv.val)) })
			if !written && resolve(v).Kind == yaml.MappingNode {
				// Without a token anyone who can reach the port could drive the
				// supervisor, so the listener cannot be turned on without one.
				d.errorf(resolve(v), "%s: missing required key %q", p, "token_file")
			}
			s.HTTP = &h
		},
	}
}}

var logTable = table[LogSettings]{build: func() map[string]func(*decoder, *LogSettings, *yaml.Node, string) {
	return map[string]func(*decoder, *LogSettings, *yaml.Node, string){
		"level": func(d *decoder, l *LogSettings, v *yaml.Node, p string) {
			if s, ok := d.oneOf(v, p, "debug", "info", "warn", "error"); ok {
				l.Level = s
			}
		},
		"format": func(d *decoder, l *LogSettings, v *yaml.Node, p string) {
			if s, ok := d.oneOf(v, p, "text", "json"); ok {
				l.Format = s
			}
		},
		"max_size": func(d *decoder, l *LogSettings, v *yaml.Node, p string) {
			if n, ok := d.positiveSize(v, p); ok {
				l.MaxSize = n
			}
		},
		"max_files": func(d *decoder, l *LogSettings, v *yaml.Node, p string) {
			if n, ok := d.integer(v, p, 1, math.MaxInt); ok {
				l.MaxFiles = n
			}
		},
	}
}}

var apiTable = table[APISettings]{build: func() map[string]func(*decoder, *APISettings, *yaml.Node, string) {
	return map[string]func(*decoder, *APISettings, *yaml.Node, string){
		"allow_group": func(d *decoder, a *APISettings, v *yaml.Node, p string) {
			if g, ok := d.str(v, p); ok {
				if g == "" {
					d.errorf(resolve(v), "%s: must not be empty", p)
					return
				}
				a.AllowGroup = g
			}
		},
	}
}}

// defaultHTTPListen keeps the listener on loopback unless a user writes otherwise.
const defaultHTTPListen = "127.0.0.1:9180"

var httpTable = table[HTTPSettings]{build: func() map[string]func(*decoder, *HTTPSettings, *yaml.Node, string) {
	return map[string]func(*decoder, *HTTPSettings, *yaml.Node, string){
		"listen": func(d *decoder, h *HTTPSettings, v *yaml.Node, p string) {
			s, ok := d.str(v, p)
			if !ok {
				return
			}
			host, port, err := net.SplitHostPort(s)
			if err != nil {
				d.errorf(resolve(v), "%s: %q is not HOST:PORT (e.g. 127.0.0.1:9180, or :9180 for loopback)", p, shorten(s))
				return
			}
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				d.errorf(resolve(v), "%s: port %q is not a number from 1 to 65535", p, shorten(port))
				return
			}
			if host == "" {
				host = "127.0.0.1"
			}
			h.Listen = net.JoinHostPort(host, port)
		},
		"token_file": func(d *decoder, h *HTTPSettings, v *yaml.Node, p string) {
			if f, ok := d.str(v, p); ok {
				if f == "" {
					d.errorf(resolve(v), "%s: must not be empty", p)
					return
				}
				h.TokenFile = d.abs(f)
				d.checkTokenFile(v, p, h.TokenFile)
			}
		},
	}
}}

// DefaultStateDir is the state dir of the config file at path when it sets
// none: .respawn beside respawn.yaml (or respawn.yml), .respawn-NAME beside
// any other NAME.yaml, so that two configs in one folder never share one.
func DefaultStateDir(path string) string {
	base := filepath.Base(path)
	name := strings.TrimSuffix(base, filepath.Ext(base))
	if name == "" || name == "respawn" {
		return filepath.Join(filepath.Dir(path), ".respawn")
	}
	return filepath.Join(filepath.Dir(path), ".respawn-"+name)
}

// supervisor reads the supervisor section, which may be absent (nil).
func (d *decoder) supervisor(n *yaml.Node) Supervisor {
	s := Supervisor{StateDir: DefaultStateDir(d.abs(filepath.Base(d.file))), Log: LogSettings{Level: "info", Format: "text", MaxSize: defaultMaxSizeBytes(), MaxFiles: defaultMaxFiles}, CoreTimeout: 30 * time.Second, Containment: "auto", Platform: "auto"}
	if n != nil {
		pairs := walk(d, n, "supervisor", &supervisorTable, &s)
		for _, kv := range pairs {
			switch {
			case kv.name == "platform" && s.Platform == "linux" && runtime.GOOS != "linux":
				d.errorf(resolve(kv.val), "supervisor.platform: linux: this system is %s (use auto or posix)", runtime.GOOS)
			case kv.name == "containment" && s.Containment == "cgroup" && (s.Platform == "posix" || runtime.GOOS != "linux"):
				// The POSIX path has no cgroups: containment is by process group.
				d.errorf(resolve(kv.val), "supervisor.containment: cgroup needs supervisor.platform linux or auto on Linux")
			}
		}
	}
	return s
}
