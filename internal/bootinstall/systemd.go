package bootinstall

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
)

// SystemdUnitName is the unit's file name, e.g. "respawn-web.service".
func (t Target) SystemdUnitName() string { return "respawn-" + t.Name + ".service" }

// SystemdDir is where the unit goes: the system unit dir, or the user's
// ($XDG_CONFIG_HOME, else ~/.config) with User.
func (t Target) SystemdDir(home, xdgConfigHome string) string {
	if !t.User {
		return "/etc/systemd/system"
	}
	if xdgConfigHome != "" {
		return filepath.Join(xdgConfigHome, "systemd", "user")
	}
	return filepath.Join(home, ".config", "systemd", "user")
}

// SystemdUnit renders the unit. Type=notify with NotifyAccess=main: only the
// supervisor itself (the keeper, systemd's main pid) may report readiness and
// feed the watchdog, never a service.
func (t Target) SystemdUnit() string {
	wanted := "multi-user.target"
	if t.User {
		wanted = "default.target"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[Unit]\n")
	fmt.Fprintf(&b, "Description=respawn supervisor for %s\n", systemdEscape(t.Config))
	fmt.Fprintf(&b, "Documentation=https://github.com/respawn-sh/respawn\n")
	if !t.User {
		fmt.Fprintf(&b, "After=network.target\n")
	}
	fmt.Fprintf(&b, "\n[Service]\n")
	fmt.Fprintf(&b, "Type=notify\n")
	fmt.Fprintf(&b, "NotifyAccess=main\n")
	fmt.Fprintf(&b, "ExecStart=%s\n", SystemdExec(t.Binary, "up", "--no-output", "-c", t.Config))
	fmt.Fprintf(&b, "ExecReload=/bin/kill -HUP $MAINPID\n")
	fmt.Fprintf(&b, "ExecStop=%s\n", SystemdExec(t.Binary, "down", "-c", t.Config))
	fmt.Fprintf(&b, "Restart=always\n")
	fmt.Fprintf(&b, "RestartSec=1\n")
	fmt.Fprintf(&b, "WatchdogSec=30\n")
	// mixed: SIGTERM to the supervisor only, so it stops services in order;
	// SIGKILL to everything left once TimeoutStopSec runs out.
	fmt.Fprintf(&b, "KillMode=mixed\n")
	// respawn makes a cgroup per service below its own: systemd must leave
	// that subtree to it.
	fmt.Fprintf(&b, "Delegate=yes\n")
	fmt.Fprintf(&b, "TimeoutStopSec=%d\n", int64(math.Ceil(t.StopTimeout.Seconds())))
	fmt.Fprintf(&b, "\n[Install]\n")
	fmt.Fprintf(&b, "WantedBy=%s\n", wanted)
	return b.String()
}

// SystemdExec writes an Exec line's command: each word quoted the way
// systemd parses Exec lines, with '%' and '$' doubled so that they stay
// themselves. The exporter's units use it too.
func SystemdExec(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = systemdQuote(w)
	}
	return strings.Join(q, " ")
}

// systemdQuote double-quotes a word when it holds anything systemd would
// split, unescape or expand.
func systemdQuote(w string) string {
	w = systemdEscape(w)
	if w != "" && !strings.ContainsAny(w, " \t\"'\\;") {
		return w
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(w) + `"`
}

// systemdEscape doubles the characters systemd expands in unit values:
// '%' (specifiers) and '$' (environment variables).
func systemdEscape(s string) string {
	return strings.NewReplacer("%", "%%", "$", "$$").Replace(s)
}
