package bootinstall

import (
	"strings"
)

// cronBegin and cronEnd bracket the lines install adds, naming the config so
// that uninstall removes exactly those and leaves every other line alone.
func (t Target) cronBegin() string { return "# BEGIN respawn " + t.Config }
func (t Target) cronEnd() string   { return "# END respawn " + t.Config }

// CronLines renders the marked block: start at boot, and every five minutes
// make sure the supervisor is still there (`--ensure` makes a running one a
// quiet no-op).
func (t Target) CronLines() string {
	cmd := cronQuote(t.Binary) + " up -d --ensure -c " + cronQuote(t.Config)
	return t.cronBegin() + "\n" +
		"@reboot " + cmd + "\n" +
		"*/5 * * * * " + cmd + "\n" +
		t.cronEnd() + "\n"
}

// AddCron returns crontab with this target's block in place of any earlier
// one, so installing twice leaves one copy.
func (t Target) AddCron(crontab string) string {
	rest := t.RemoveCron(crontab)
	if rest != "" && !strings.HasSuffix(rest, "\n") {
		rest += "\n"
	}
	return rest + t.CronLines()
}

// RemoveCron returns crontab without this target's block.
func (t Target) RemoveCron(crontab string) string {
	if crontab == "" {
		return ""
	}
	lines := strings.SplitAfter(crontab, "\n")
	var b strings.Builder
	inside := false
	for _, l := range lines {
		trimmed := strings.TrimRight(l, "\n")
		switch {
		case trimmed == t.cronBegin():
			inside = true
		case inside && trimmed == t.cronEnd():
			inside = false
		case !inside:
			b.WriteString(l)
		}
	}
	return b.String()
}

// cronQuote single-quotes a word for the shell cron runs the line with, and
// escapes '%', which cron itself would turn into a newline.
func cronQuote(w string) string {
	if w != "" && !strings.ContainsFunc(w, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:,@", r))
	}) {
		return w
	}
	q := "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	return strings.ReplaceAll(q, "%", `\%`)
}
