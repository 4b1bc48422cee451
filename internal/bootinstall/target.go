// Package bootinstall renders and installs what starts the supervisor at boot: a systemd unit, a launchd plist or crontab lines.
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
	Cron    Method = "cron"
)

// DefaultMethod is the boot mechanism native to the running OS.
func DefaultMethod() Method {
	switch runtime.GOOS {
	case "linux":
		return Systemd
	case "darwin":
		return Launchd
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

// NewTarget checks the paths and derives the name. maxServiceStop is the
// longest stop timeout among the config's services (0 if it has none); the
// manager waits that plus a margin, so a slow service is never killed early.
func NewTarget(binary, config string, maxServiceStop time.Duration, user bool) (Target, error) {
	for _, p := range []string{binary, config} {
		if !filepath.IsAbs(p) {
			return Target{}, fmt.Errorf("%w: %q is not absolute", ErrBadPath, p)
		}
		if strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return Target{}, fmt.Errorf("%w: %q holds a control character", ErrBadPath, p)
		}
	}
	stop := defaultStopTimeout
	if maxServiceStop > 0 {
		stop = maxServiceStop + 10*time.Second
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
