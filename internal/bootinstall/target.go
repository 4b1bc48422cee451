// Package bootinstall renders and installs what starts the supervisor at boot: a systemd unit, a launchd plist, a FreeBSD rc.d script or crontab lines.
package bootinstall

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Method is a way of starting the supervisor at boot.
type Method string

// The methods install knows.
const (
	Systemd Method = "systemd"
	Launchd Method = "launchd"
	RCD     Method = "rcd"
	Cron    Method = "cron"
)

// DefaultMethod is the boot mechanism native to the running OS.
func DefaultMethod() Method {
	switch runtime.GOOS {
	case "linux":
		return Systemd
	case "darwin":
		return Launchd
	case "freebsd":
		return RCD
	default:
		return Cron
	}
}

// ErrBadPath is returned for a binary or config path that cannot be written
// safely into a unit, plist or crontab (relative, or holding a control
// character such as a newline).
var ErrBadPath = errors.New("bootinstall: unusable path")

// defaultStopTimeout is systemd's own default, used when the config gives no
// service to size it from.
const defaultStopTimeout = 90 * time.Second

// stopMargin is added to the longest stop chain: the keeper and the core
// need a moment to wind down after the last service.
const stopMargin = 10 * time.Second

// KillAllowance is what a stop may take beyond its stop timeout: SIGKILL,
// then a bounded wait for the process tree to be gone (5 s in the service
// actor).
const KillAllowance = 5 * time.Second

// StopLink is one service of a dependency graph, for StopChain.
type StopLink struct {
	Timeout   time.Duration
	DependsOn []string
}

// StopChain returns how long `down` may take for services, keyed by name: a
// service stops only after everything that depends on it, so stops add up
// along each dependency chain; the slowest chain, each link counted at its
// stop timeout plus KillAllowance, bounds the whole. Independent chains stop
// in parallel. A cycle (which the config refuses) is not followed twice.
func StopChain(services map[string]StopLink) time.Duration {
	longest := make(map[string]time.Duration, len(services))
	visiting := map[string]bool{}
	var chain func(name string) time.Duration
	chain = func(name string) time.Duration {
		if d, ok := longest[name]; ok {
			return d
		}
		s, ok := services[name]
		if !ok || visiting[name] {
			return 0
		}
		visiting[name] = true
		var deps time.Duration
		for _, d := range s.DependsOn {
			deps = max(deps, chain(d))
		}
		visiting[name] = false
		longest[name] = s.Timeout + KillAllowance + deps
		return longest[name]
	}
	var out time.Duration
	for name := range services {
		out = max(out, chain(name))
	}
	return out
}

// Target is one supervisor to start at boot.
type Target struct {
	// Binary and Config are absolute paths.
	Binary, Config string
	// Name identifies the install (unit, label, crontab marker); it is the
	// sanitized base name of the config's directory.
	Name string
	// User installs for the calling user instead of system-wide.
	User bool
	// StopTimeout bounds how long the service manager waits for `down`.
	StopTimeout time.Duration
}

// NewTarget checks the paths and derives the name. stopChain is how long the
// slowest ordered stop of the config's services may take (see StopChain; 0
// if it has none); the manager waits that plus a margin, so a slow service is
// never killed early.
func NewTarget(binary, config string, stopChain time.Duration, user bool) (Target, error) {
	for _, p := range []string{binary, config} {
		if !filepath.IsAbs(p) {
			return Target{}, fmt.Errorf("%w: %q is not absolute", ErrBadPath, p)
		}
		if strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return Target{}, fmt.Errorf("%w: %q holds a control character", ErrBadPath, p)
		}
	}
	stop := defaultStopTimeout
	if stopChain > 0 {
		stop = stopChain + stopMargin
	}
	return Target{
		Binary:      filepath.Clean(binary),
		Config:      filepath.Clean(config),
		Name:        SanitizeName(filepath.Base(filepath.Dir(config))),
		User:        user,
		StopTimeout: stop,
	}, nil
}

// SanitizeName keeps what is safe in a unit name, a launchd label and a file
// name: ASCII letters, digits, '_', '.' and '-'; anything else becomes '-'.
func SanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		case r == '.' && b.Len() > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-.")
	if name == "" {
		return "default"
	}
	return name
}
