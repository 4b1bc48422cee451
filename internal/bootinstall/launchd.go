package bootinstall

import (
	"encoding/xml"
	"path/filepath"
	"strings"
)

// LaunchdLabel is the job's label, e.g. "sh.respawn.web".
func (t Target) LaunchdLabel() string { return "sh.respawn." + t.Name }

// LaunchdPath is where the plist goes: /Library/LaunchDaemons, or the user's
// ~/Library/LaunchAgents with User.
func (t Target) LaunchdPath(home string) string {
	dir := "/Library/LaunchDaemons"
	if t.User {
		dir = filepath.Join(home, "Library", "LaunchAgents")
	}
	return filepath.Join(dir, t.LaunchdLabel()+".plist")
}

// LaunchdPlist renders the job: run `up` at load and whenever it exits.
func (t Target) LaunchdPlist() string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>`)
	b.WriteString(xmlEscape(t.LaunchdLabel()))
	b.WriteString("</string>\n\t<key>ProgramArguments</key>\n\t<array>\n")
	for _, a := range []string{t.Binary, "up", "--no-output", "-c", t.Config} {
		b.WriteString("\t\t<string>" + xmlEscape(a) + "</string>\n")
	}
	b.WriteString(`	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<true/>
</dict>
</plist>
`)
	return b.String()
}

func xmlEscape(s string) string {
	var b strings.Builder
	// Writing to a strings.Builder cannot fail.
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
