package bootinstall

import (
	"path/filepath"
	"strings"
	"unicode/utf8"
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

// xmlEscape escapes s for XML character data exactly as encoding/xml's
// EscapeText does (TestXMLEscapeMatchesEncodingXML), without linking
// encoding/xml into the binary: its package initialisation would run at
// every start of every command.
func xmlEscape(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		r, width := utf8.DecodeRuneInString(s[i:])
		var esc string
		switch r {
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			if !xmlChar(r) || (r == utf8.RuneError && width == 1) {
				esc = "\uFFFD"
			}
		}
		if esc != "" {
			b.WriteString(s[last:i])
			b.WriteString(esc)
			last = i + width
		}
		i += width
	}
	b.WriteString(s[last:])
	return b.String()
}

// xmlChar reports whether r is in XML's Char production.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
