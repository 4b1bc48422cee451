package bootinstall

import (
	"errors"
	"fmt"
	"strings"
)

// ErrRCDUser: FreeBSD's rc.d starts system services only; it has no
// per-user scripts, so an rc.d install needs root (cron serves a user).
var ErrRCDUser = errors.New("bootinstall: rc.d has no per-user scripts: the FreeBSD boot install needs root (use --cron for a user)")

// RCDDir is where the scripts of installed software go on FreeBSD.
const RCDDir = "/usr/local/etc/rc.d"

// RCDName is the script's name, which rc.d also uses as the prefix of its
// variables (respawn_web_enable): "respawn_" and the target's name with
// what a shell variable cannot hold turned into '_'.
func (t Target) RCDName() string {
	return "respawn_" + strings.Map(func(r rune) rune {
		if r == '-' || r == '.' {
			return '_'
		}
		return r
	}, t.Name)
}

// RCDScript renders the rc.d script. daemon(8) runs `respawn up` in the
// background, restarts it whenever it exits (-r, a second later: what
// launchd's KeepAlive and systemd's Restart=always do), sends its output to
// syslog under the script's name, and writes its own pid to the pidfile. The
// stop rc.subr does — SIGTERM to that pid — reaches the supervisor through
// daemon, which then ends without restarting it; the supervisor stops its
// services in order on SIGTERM.
func (t Target) RCDScript() string {
	name := t.RCDName()
	args := shQuote(t.Binary) + " up --no-output -c " + shQuote(t.Config)
	var b strings.Builder
	b.WriteString("#!/bin/sh\n\n")
	fmt.Fprintf(&b, "# PROVIDE: %s\n", name)
	b.WriteString("# REQUIRE: LOGIN NETWORKING\n")
	b.WriteString("# KEYWORD: shutdown\n")
	fmt.Fprintf(&b, "#\n# Add %s_enable=\"YES\" to /etc/rc.conf (sysrc %s_enable=YES) to start the\n", name, name)
	b.WriteString("# respawn supervisor for " + t.Config + " at boot.\n\n")
	b.WriteString(". /etc/rc.subr\n\n")
	fmt.Fprintf(&b, "name=%s\n", name)
	fmt.Fprintf(&b, "rcvar=%s_enable\n", name)
	fmt.Fprintf(&b, "desc=%s\n\n", shQuote("respawn supervisor for "+t.Config))
	b.WriteString("load_rc_config $name\n")
	fmt.Fprintf(&b, ": ${%s_enable:=NO}\n\n", name)
	b.WriteString("pidfile=/var/run/${name}.pid\n")
	b.WriteString("command=/usr/sbin/daemon\n")
	// rc.subr evaluates command_args once more: the words keep their quotes.
	fmt.Fprintf(&b, "command_args=%s\n\n", shQuote("-r -S -T "+name+" -P ${pidfile} -- "+args))
	b.WriteString("run_rc_command \"$1\"\n")
	return b.String()
}

// shQuote single-quotes a word for sh when it holds anything sh would
// split, expand or unquote.
func shQuote(w string) string {
	if w != "" && !strings.ContainsFunc(w, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:,@", r))
	}) {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}
