package bootinstall

import (
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"time"
)

func mustTarget(t *testing.T, bin, cfg string, stop time.Duration, user bool) Target {
	t.Helper()
	tg, err := NewTarget(bin, cfg, stop, user)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestSystemdUnitGolden(t *testing.T) {
	tg := mustTarget(t, "/usr/local/bin/respawn", "/srv/web app/respawn.yaml", 25*time.Second, false)
	want := `[Unit]
Description=respawn supervisor for /srv/web app/respawn.yaml
Documentation=https://github.com/respawn-sh/respawn
After=network.target

[Service]
Type=notify
NotifyAccess=main
ExecStart=/usr/local/bin/respawn up --no-output -c "/srv/web app/respawn.yaml"
ExecReload=/bin/kill -HUP $MAINPID
ExecStop=/usr/local/bin/respawn down -c "/srv/web app/respawn.yaml"
Restart=always
RestartSec=1
WatchdogSec=30
KillMode=mixed
Delegate=yes
TimeoutStopSec=35

[Install]
WantedBy=multi-user.target
`
	if got := tg.SystemdUnit(); got != want {
		t.Errorf("unit:\n%s\nwant:\n%s", got, want)
	}
	if got := tg.SystemdUnitName(); got != "respawn-web-app.service" {
		t.Errorf("unit name %q", got)
	}
	if got := tg.SystemdDir("/home/u", ""); got != "/etc/systemd/system" {
		t.Errorf("system dir %q", got)
	}
}

func TestSystemdUserUnit(t *testing.T) {
	tg := mustTarget(t, "/opt/r%s/respawn", "/home/u/$proj/respawn.yaml", 0, true)
	unit := tg.SystemdUnit()
	for _, want := range []string{
		"ExecStart=/opt/r%%s/respawn up --no-output -c /home/u/$$proj/respawn.yaml\n",
		"TimeoutStopSec=90\n",
		"WantedBy=default.target\n",
	} {
		if !contains(unit, want) {
			t.Errorf("user unit lacks %q:\n%s", want, unit)
		}
	}
	if contains(unit, "After=network.target") {
		t.Error("user unit orders after a system target")
	}
	if got := tg.SystemdDir("/home/u", ""); got != "/home/u/.config/systemd/user" {
		t.Errorf("user dir %q", got)
	}
	if got := tg.SystemdDir("/home/u", "/cfg"); got != "/cfg/systemd/user" {
		t.Errorf("user dir with XDG_CONFIG_HOME %q", got)
	}
}

func TestSystemdQuoteEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"/a/b":       "/a/b",
		`/a "b"`:     `"/a \"b\""`,
		`/a\b`:       `"/a\\b"`,
		"/a;b":       `"/a;b"`,
		"/it's/here": `"/it's/here"`,
	} {
		if got := systemdQuote(in); got != want {
			t.Errorf("systemdQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestLaunchdPlistGolden(t *testing.T) {
	tg := mustTarget(t, "/usr/local/bin/respawn", "/srv/a&b/respawn.yaml", 0, false)
	want := `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>sh.respawn.a-b</string>
	<key>ProgramArguments</key>
	<array>
		<string>/usr/local/bin/respawn</string>
		<string>up</string>
		<string>--no-output</string>
		<string>-c</string>
		<string>/srv/a&amp;b/respawn.yaml</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<true/>
</dict>
</plist>
`
	if got := tg.LaunchdPlist(); got != want {
		t.Errorf("plist:\n%s\nwant:\n%s", got, want)
	}
	if got := tg.LaunchdPath("/Users/u"); got != "/Library/LaunchDaemons/sh.respawn.a-b.plist" {
		t.Errorf("system plist path %q", got)
	}
	tg.User = true
	if got := tg.LaunchdPath("/Users/u"); got != "/Users/u/Library/LaunchAgents/sh.respawn.a-b.plist" {
		t.Errorf("user plist path %q", got)
	}
}

func TestCronLinesGolden(t *testing.T) {
	tg := mustTarget(t, "/usr/local/bin/respawn", "/srv/web/respawn.yaml", 0, false)
	want := `# BEGIN respawn /srv/web/respawn.yaml
@reboot /usr/local/bin/respawn up -d --ensure -c /srv/web/respawn.yaml
*/5 * * * * /usr/local/bin/respawn up -d --ensure -c /srv/web/respawn.yaml
# END respawn /srv/web/respawn.yaml
`
	if got := tg.CronLines(); got != want {
		t.Errorf("cron:\n%s\nwant:\n%s", got, want)
	}
	odd := mustTarget(t, "/usr/local/bin/respawn", "/srv/it's 100%/respawn.yaml", 0, false)
	if got, want := cronQuote(odd.Config), `'/srv/it'\''s 100\%/respawn.yaml'`; got != want {
		t.Errorf("cronQuote = %s, want %s", got, want)
	}
}

func TestCronAddRemoveKeepsOtherLines(t *testing.T) {
	web := mustTarget(t, "/bin/respawn", "/srv/web/respawn.yaml", 0, false)
	db := mustTarget(t, "/bin/respawn", "/srv/db/respawn.yaml", 0, false)
	orig := "MAILTO=ops\n0 3 * * * /usr/bin/backup"
	both := db.AddCron(web.AddCron(orig))
	// Installing again replaces the block instead of adding a second one.
	again := web.AddCron(both)
	if n := countOf(again, "@reboot /bin/respawn up -d --ensure -c /srv/web/respawn.yaml"); n != 1 {
		t.Fatalf("web block %d times after reinstall:\n%s", n, again)
	}
	if !contains(again, "0 3 * * * /usr/bin/backup\n") || !contains(again, db.CronLines()) {
		t.Fatalf("reinstall lost a line:\n%s", again)
	}
	rest := db.RemoveCron(web.RemoveCron(again))
	if rest != orig+"\n" {
		t.Errorf("after removing both: %q, want %q", rest, orig+"\n")
	}
	if got := web.RemoveCron(""); got != "" {
		t.Errorf("remove from empty: %q", got)
	}
}

func TestNewTargetRejectsBadPaths(t *testing.T) {
	for _, c := range [][2]string{
		{"respawn", "/srv/respawn.yaml"},
		{"/bin/respawn", "respawn.yaml"},
		{"/bin/respawn", "/srv/a\nb/respawn.yaml"},
	} {
		if _, err := NewTarget(c[0], c[1], 0, false); !errors.Is(err, ErrBadPath) {
			t.Errorf("NewTarget(%q, %q): %v, want ErrBadPath", c[0], c[1], err)
		}
	}
}

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"web":     "web",
		"my app":  "my-app",
		".hidden": "hidden",
		"/":       "default",
		"":        "default",
		"a.b_c-d": "a.b_c-d",
		"héllo":   "h-llo",
		"..":      "default",
		"---x---": "x",
	} {
		if got := SanitizeName(in); got != want {
			t.Errorf("SanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStopChain(t *testing.T) {
	s := time.Second
	for _, c := range []struct {
		name     string
		services map[string]StopLink
		want     time.Duration
	}{
		{"none", nil, 0},
		{"one", map[string]StopLink{"a": {Timeout: 20 * s}}, 20*s + KillAllowance},
		// web stops first, then db: their stops add up.
		{"chain", map[string]StopLink{
			"db":  {Timeout: 10 * s},
			"web": {Timeout: 20 * s, DependsOn: []string{"db"}},
		}, 30*s + 2*KillAllowance},
		// Independent chains stop in parallel: the slowest counts.
		{"parallel", map[string]StopLink{
			"db":    {Timeout: 10 * s},
			"web":   {Timeout: 20 * s, DependsOn: []string{"db"}},
			"cache": {Timeout: 40 * s},
		}, 40*s + KillAllowance},
		{"diamond", map[string]StopLink{
			"db":  {Timeout: 10 * s},
			"a":   {Timeout: 5 * s, DependsOn: []string{"db"}},
			"b":   {Timeout: 30 * s, DependsOn: []string{"db"}},
			"top": {Timeout: 1 * s, DependsOn: []string{"a", "b"}},
		}, 41*s + 3*KillAllowance},
		{"cycle is not followed forever", map[string]StopLink{
			"a": {Timeout: s, DependsOn: []string{"b"}},
			"b": {Timeout: s, DependsOn: []string{"a"}},
		}, 2*s + 2*KillAllowance},
	} {
		if got := StopChain(c.services); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// The unit waits for the chain plus a margin.
	tg := mustTarget(t, "/bin/respawn", "/srv/a/respawn.yaml", 30*s+2*KillAllowance, false)
	if !contains(tg.SystemdUnit(), "TimeoutStopSec=50\n") {
		t.Errorf("unit for a 10 s + 20 s chain:\n%s", tg.SystemdUnit())
	}
}

func TestXMLEscapeMatchesEncodingXML(t *testing.T) {
	for _, s := range []string{"", "plain /usr/bin/respawn", `a "b" 'c' <d> & e`, "tab\tnl\ncr\r", "bad \xff byte", "\x00\x01\x1f ctl",
		"ünïcødé ✓ \U0001F600", "\uFFFD kept", "\uFFFE\uFFFF not chars", "\ud7ff\ue000"} {
		var want strings.Builder
		if err := xml.EscapeText(&want, []byte(s)); err != nil {
			t.Fatal(err)
		}
		if got := xmlEscape(s); got != want.String() {
			t.Errorf("xmlEscape(%q) = %q, want %q", s, got, want.String())
		}
	}
}
