package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const alertsServices = `version: 1
services:
  api: {command: ./api, replicas: 2}
  db: {command: ./db}
`

func TestAlertsGood(t *testing.T) {
	src := alertsServices + `alerts:
  destinations:
    hook:
      webhook: {url: "https://hooks.example.com/x", secret_file: hook.secret, timeout: 2s, retries: 5, backoff: 250ms}
    page:
      exec: {command: "./notify --urgent", timeout: 3s}
    plain:
      exec: {command: [/bin/cat]}
    mail:
      email:
        server: smtp.example.com
        from: respawn@example.com
        to: [ops@example.com, "Dev <dev@example.com>"]
        username: respawn
        password_env: SMTP_PASSWORD
        subject: "{{.Service}} is {{.Trigger}}"
  rules:
    crashes:
      on: [crash_loop, recovered]
      to: [hook, mail]
      services: [api]
      crash_loop: {restarts: 3, window: 30s}
      stable: 10s
      rate_limit: {burst: 2, window: 10m}
    core:
      on: core_crashed
      to: page
`
	c, dir, err := parseIn(t, src, nil, map[string]string{"hook.secret": "s3cret\n"})
	if err != nil {
		t.Fatal(err)
	}
	a := c.Alerts
	if len(a.Destinations) != 4 || len(a.Rules) != 2 {
		t.Fatalf("got %d destinations, %d rules", len(a.Destinations), len(a.Rules))
	}
	wantHook := &WebhookAlert{URL: "https://hooks.example.com/x", Secret: Secret{File: filepath.Join(dir, "hook.secret")}, Timeout: 2 * time.Second, Retries: 5, Backoff: 250 * time.Millisecond}
	if got := a.Destination("hook"); got.Kind() != "webhook" || !reflect.DeepEqual(got.Webhook, wantHook) {
		t.Errorf("hook = %+v, want %+v", got.Webhook, wantHook)
	}
	wantExec := &ExecAlert{Command: []string{filepath.Join(dir, "notify"), "--urgent"}, Timeout: 3 * time.Second, At: Pos{Line: 10, Col: 23}}
	if got := a.Destination("page"); got.Kind() != "exec" || !reflect.DeepEqual(got.Exec, wantExec) {
		t.Errorf("page = %+v, want %+v", got.Exec, wantExec)
	}
	if got := a.Destination("plain").Exec; got.Timeout != DefaultExecTimeout || !slices.Equal(got.Command, []string{"/bin/cat"}) {
		t.Errorf("plain = %+v", got)
	}
	wantMail := &EmailAlert{Server: "smtp.example.com:587", From: "respawn@example.com", To: []string{"ops@example.com", "Dev <dev@example.com>"},
		Username: "respawn", Password: Secret{Env: "SMTP_PASSWORD"}, StartTLS: true, Subject: "{{.Service}} is {{.Trigger}}", Body: DefaultEmailBody, Timeout: DefaultEmailTimeout}
	if got := a.Destination("mail"); got.Kind() != "email" || !reflect.DeepEqual(got.Email, wantMail) {
		t.Errorf("mail = %+v, want %+v", got.Email, wantMail)
	}
	wantRule := &AlertRule{Name: "crashes", On: []AlertTrigger{TriggerCrashLoop, TriggerRecovered}, To: []string{"hook", "mail"},
		Services: []string{"api.1", "api.2"}, CrashLoop: CrashLoop{Restarts: 3, Window: 30 * time.Second}, Stable: 10 * time.Second,
		RateLimit: Limit{Burst: 2, Window: 10 * time.Minute}}
	if got := a.Rule("crashes"); !reflect.DeepEqual(got, wantRule) {
		t.Errorf("crashes = %+v, want %+v", got, wantRule)
	}
	wantCore := &AlertRule{Name: "core", On: []AlertTrigger{TriggerCoreCrash}, To: []string{"page"},
		CrashLoop: defaultCrashLoop, Stable: defaultStable, RateLimit: defaultAlertRate}
	if got := a.Rule("core"); !reflect.DeepEqual(got, wantCore) {
		t.Errorf("core = %+v, want %+v", got, wantCore)
	}
	if a.Rule("nope") != nil || a.Destination("nope") != nil {
		t.Error("lookup of an unknown name found something")
	}
}

func TestAlertsAbsent(t *testing.T) {
	c, _, err := parseIn(t, alertsServices, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Alerts.Rules) != 0 || len(c.Alerts.Destinations) != 0 {
		t.Errorf("alerts = %+v, want none", c.Alerts)
	}
}

func TestAlertsBad(t *testing.T) {
	tests := []struct {
		name, alerts string
		want         []string
	}{
		{"unknown destination in a rule", `alerts:
  destinations:
    hook: {webhook: {url: "http://x"}}
  rules:
    r: {on: failed, to: [hook, hok, pager]}
`, []string{
			`r.yaml:9:32: alerts.rules.r.to: unknown destination "hok" (did you mean "hook"?)`,
			`r.yaml:9:37: alerts.rules.r.to: unknown destination "pager" (alerts.destinations has no such name)`,
		}},
		{"missing secret file", `alerts:
  destinations:
    hook: {webhook: {url: "http://x", secret_file: nope.secret}}
`, []string{`r.yaml:7:52: alerts.destinations.hook.webhook.secret_file: nope.secret does not exist`}},
		{"ca_file missing or not PEM", `alerts:
  destinations:
    a: {email: {server: h, from: a@b.c, to: d@e.f, ca_file: nope.pem}}
    b: {email: {server: h, from: a@b.c, to: d@e.f, ca_file: junk.pem}}
`, []string{
			`r.yaml:7:61: alerts.destinations.a.email.ca_file: open nope.pem: no such file or directory`,
			`r.yaml:8:61: alerts.destinations.b.email.ca_file: junk.pem holds no PEM certificate`,
		}},
		{"inline secret and password", `alerts:
  destinations:
    hook: {webhook: {url: "http://x", secret: abc}}
    mail: {email: {server: h, from: a@b.c, to: d@e.f, password: abc}}
`, []string{
			`r.yaml:7:47: alerts.destinations.hook.webhook.secret: a secret is never written in the config: use secret_env (a variable's name) or secret_file`,
			`r.yaml:8:65: alerts.destinations.mail.email.password: a password is never written in the config: use password_env (a variable's name) or password_file`,
		}},
		{"bad templates", `alerts:
  destinations:
    a: {email: {server: h, from: a@b.c, to: d@e.f, subject: "{{.Servic}}"}}
    b: {email: {server: h, from: a@b.c, to: d@e.f, body: "{{if .Service}}"}}
`, []string{
			`r.yaml:7:61: alerts.destinations.a.email.subject: bad template: template: alerts.destinations.a.email.subject:1:2: executing "alerts.destinations.a.email.subject" at <.Servic>: map has no entry for key "Servic" (an alert has Rule, Trigger, Service, Message, Time, Host, Restarts, Test, Event)`,
			`r.yaml:8:58: alerts.destinations.b.email.body: bad template: template: alerts.destinations.b.email.body:1: unexpected EOF`,
		}},
		{"kinds and required keys", `alerts:
  destinations:
    none: {}
    two: {exec: {command: x}, webhook: {url: "http://x"}}
    nourl: {webhook: {timeout: 1s}}
    nomail: {email: {username: u, starttls: false}}
    bad-url: {webhook: {url: "ftp://x"}}
`, []string{
			`r.yaml:7:11: alerts.destinations.none: needs one of exec, webhook, email`,
			`r.yaml:8:31: alerts.destinations.two: only one of exec, webhook, email per destination (exec is at line 8)`,
			`r.yaml:9:22: alerts.destinations.nourl.webhook: missing required key "url"`,
			`r.yaml:10:21: alerts.destinations.nomail.email: missing required key "server"`,
			`r.yaml:10:21: alerts.destinations.nomail.email: missing required key "from"`,
			`r.yaml:10:21: alerts.destinations.nomail.email: missing required key "to"`,
			`r.yaml:10:21: alerts.destinations.nomail.email: username needs starttls: the password is never sent unencrypted`,
			`r.yaml:11:30: alerts.destinations.bad-url.webhook.url: "ftp://x" is not an http:// or https:// URL`,
		}},
		{"rules", `alerts:
  destinations:
    h: {exec: {command: x}}
  rules:
    a: {to: h}
    b: {on: [failed, crashed], to: h, services: [api, web]}
    c: {on: failed, to: h, crash_loop: {restarts: 1}}
    d: {on: crash_loop, to: h, rate_limit: {burst: 0}, stable: 0s}
    "bad name": {on: failed, to: h}
`, []string{
			`r.yaml:9:8: alerts.rules.a: missing required key "on"`,
			`r.yaml:10:22: alerts.rules.b.on[1]: "crashed" is not one of failed, crash_loop, recovered, unhealthy, core_crashed, core_hung, upgrade_rolled_back`,
			`r.yaml:10:55: alerts.rules.b.services: unknown service "web"`,
			`r.yaml:11:40: alerts.rules.c.crash_loop: the rule has no crash_loop (or recovered) in on`,
			`r.yaml:11:51: alerts.rules.c.crash_loop.restarts: 1 is out of range (2 to 1000)`,
			`r.yaml:12:52: alerts.rules.d.rate_limit.burst: 0 is out of range (at least 1)`,
			`r.yaml:12:64: alerts.rules.d.stable: must be more than 0`,
			`r.yaml:13:5: alerts.rules: name "bad name" may hold only letters, digits, '-', '_' and '.'`,
		}},
		{"unknown keys", `alerts:
  destination: {}
  rules:
    r: {on: failed, to: [], when: x}
`, []string{
			`r.yaml:6:3: alerts: unknown key "destination" (did you mean "destinations"?)`,
			`r.yaml:8:25: alerts.rules.r.to: must not be empty`,
			`r.yaml:8:29: alerts.rules.r: unknown key "when"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, dir, err := parseIn(t, alertsServices+tt.alerts, nil, map[string]string{"junk.pem": "not a certificate\n"})
			got := errorLines(err, dir)
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", join2(got), join2(tt.want))
			}
		})
	}
}

func join2(lines []string) string {
	out := ""
	for _, l := range lines {
		out += "  " + l + "\n"
	}
	return out
}

// The example of the alerts section in the reference loads as it says.
func TestAlertsReferenceExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## `alerts`")
	if !ok {
		t.Fatal("no alerts section in docs/config.md")
	}
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	if !ok {
		t.Fatal("no yaml block in the alerts section")
	}
	example, _, _ := strings.Cut(rest, "```")
	src := "version: 1\nservices:\n  api: {command: ./api}\n  worker: {command: ./worker, replicas: 2}\n" + example
	c, _, err := parseIn(t, src, nil, nil)
	if err != nil {
		t.Fatalf("the example does not load:\n%v", err)
	}
	a := c.Alerts
	if len(a.Destinations) != 3 || len(a.Rules) != 2 {
		t.Fatalf("example: %d destinations, %d rules", len(a.Destinations), len(a.Rules))
	}
	if r := a.Rule("crashes"); !slices.Equal(r.Services, []string{"api", "worker.1", "worker.2"}) || r.CrashLoop.Restarts != 5 || r.Stable != 30*time.Second {
		t.Errorf("crashes = %+v", r)
	}
	if d := a.Destination("mail").Email; d.Server != "smtp.example.com:587" || d.Password.Env != "SMTP_PASSWORD" || !d.StartTLS {
		t.Errorf("mail = %+v", d)
	}
	if d := a.Destination("ops-hook").Webhook; d.Secret.Env != "HOOK_SECRET" || d.Retries != 3 {
		t.Errorf("ops-hook = %+v", d)
	}
}

// check warns of an exec destination whose program is not there.
func TestAlertsLint(t *testing.T) {
	src := alertsServices + `alerts:
  destinations:
    gone: {exec: {command: ./no-such-notifier}}
    path: {exec: {command: [no-such-program-on-path, x]}}
    fine: {exec: {command: sh}}
`
	c, dir, err := parseIn(t, src, map[string]string{"PATH": "/usr/bin:/bin"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range Lint(c, func(k string) (string, bool) { return map[string]string{"PATH": "/usr/bin:/bin"}[k], k == "PATH" }) {
		if strings.Contains(e.Msg, "alerts.") {
			got = append(got, strings.ReplaceAll(e.Error(), dir+"/", ""))
		}
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "r.yaml:7:28: alerts.destinations.gone.exec.command: ") ||
		!strings.HasPrefix(got[1], "r.yaml:8:28: alerts.destinations.path.exec.command: ") {
		t.Errorf("lint: %q", got)
	}
}
