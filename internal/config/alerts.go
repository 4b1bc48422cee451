package config

import (
	"crypto/x509"
	"errors"
	"io/fs"
	"maps"
	"math"
	"net"
	"net/mail"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"
)

// Alerts is the top-level alerts section: where alerts go and which events
// send them. Both lists are empty when the section is absent.
type Alerts struct {
	// Destinations and Rules in file order.
	Destinations []*AlertDestination
	Rules        []*AlertRule
}

// Destination returns the destination with the given name, or nil.
func (a *Alerts) Destination(name string) *AlertDestination {
	for _, d := range a.Destinations {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// Rule returns the rule with the given name, or nil.
func (a *Alerts) Rule(name string) *AlertRule {
	for _, r := range a.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// AlertDestination is one place alerts go: exactly one of Exec, Webhook and
// Email is set.
type AlertDestination struct {
	Name    string
	Exec    *ExecAlert
	Webhook *WebhookAlert
	Email   *EmailAlert
}

// Kind names the destination's kind: exec, webhook or email.
func (d *AlertDestination) Kind() string {
	switch {
	case d.Exec != nil:
		return "exec"
	case d.Webhook != nil:
		return "webhook"
	}
	return "email"
}

// ExecAlert runs a command with the alert as JSON on its stdin and as
// RESPAWN_* variables in its environment.
type ExecAlert struct {
	Command []string
	// At is where command is written, for Lint's warnings.
	At Pos
	// Timeout bounds one run; the command is killed past it. Default 10s.
	Timeout time.Duration
}

// WebhookAlert POSTs the alert as JSON.
type WebhookAlert struct {
	URL string
	// Secret, when set, signs each body with HMAC-SHA256 in the
	// X-Respawn-Signature header ("sha256=HEX").
	Secret Secret
	// Timeout bounds each attempt; default 5s.
	Timeout time.Duration
	// Retries is how many times a failed attempt is tried again; default 3.
	Retries int
	// Backoff is the wait before the first retry, doubled for each next
	// one; default 1s.
	Backoff time.Duration
}

// EmailAlert sends the alert by SMTP.
type EmailAlert struct {
	// Server is HOST:PORT; the port defaults to 587.
	Server   string
	From     string
	To       []string
	Username string
	Password Secret
	// StartTLS requires the server to offer STARTTLS and uses it before
	// anything else is sent; default true. Without it the password is
	// never sent.
	StartTLS bool
	// CAFile, when set, is a PEM file of the certificates trusted for the
	// server instead of the system's.
	CAFile string
	// Subject and Body are text/template sources executed over the alert.
	Subject, Body string
	// Timeout bounds the whole exchange; default 30s.
	Timeout time.Duration
}

// Secret is where a secret is read when it is needed: from an environment
// variable of the supervisor or from a file. Never written in the config,
// which is often readable by more people than the secret should be.
type Secret struct {
	Env  string
	File string // absolute
}

// IsZero reports whether no secret is set.
func (s Secret) IsZero() bool { return s.Env == "" && s.File == "" }

// AlertTrigger is a kind of event a rule sends alerts for.
type AlertTrigger string

// The triggers.
const (
	TriggerFailed     AlertTrigger = "failed"     // a service entered failed
	TriggerCrashLoop  AlertTrigger = "crash_loop" // CrashLoop.Restarts restarts within CrashLoop.Window
	TriggerRecovered  AlertTrigger = "recovered"  // up for Stable after one of the failures above
	TriggerUnhealthy  AlertTrigger = "unhealthy"  // its health check failed and it is restarted
	TriggerCoreCrash  AlertTrigger = "core_crashed"
	TriggerCoreHung   AlertTrigger = "core_hung"
	TriggerRolledBack AlertTrigger = "upgrade_rolled_back"
	// TriggerTest is the trigger of `respawn alerts test`; never in a rule.
	TriggerTest AlertTrigger = "test"
)

// AlertTriggers lists the triggers a rule may name, in the order the docs give them.
var AlertTriggers = []AlertTrigger{TriggerFailed, TriggerCrashLoop, TriggerRecovered, TriggerUnhealthy, TriggerCoreCrash, TriggerCoreHung, TriggerRolledBack}

// AlertTemplateFields are the fields of the alert an email's subject and
// body templates may use; the alerts package's data type has exactly these.
var AlertTemplateFields = []string{"Rule", "Trigger", "Service", "Message", "Time", "Host", "Restarts", "Test", "Event"}

// AlertRule says which events send alerts, and where.
type AlertRule struct {
	Name string
	On   []AlertTrigger
	// To names destinations, each one of Alerts.Destinations.
	To []string
	// Services limits the rule to these services (a replicated service's
	// name stands for each instance); empty means every service. The
	// supervisor's own triggers (core_*, upgrade_*) ignore it.
	Services []string
	// CrashLoop is what counts as a crash loop: Restarts exits that are
	// restarted or given up on within Window. Default 5 in 1m.
	CrashLoop CrashLoop
	// Stable is how long a service must run without an exit to count as
	// recovered; default 30s.
	Stable time.Duration
	// RateLimit bounds the alerts this rule sends for one service (or for
	// the supervisor): at most Burst within Window. Default 5 in 1h.
	RateLimit Limit
}

// Has reports whether the rule sends alerts for t.
func (r *AlertRule) Has(t AlertTrigger) bool { return slices.Contains(r.On, t) }

// CrashLoop is the threshold of the crash_loop trigger.
type CrashLoop struct {
	Restarts int
	Window   time.Duration
}

// Defaults of the alerts section.
const (
	DefaultExecTimeout    = 10 * time.Second
	DefaultWebhookTimeout = 5 * time.Second
	DefaultWebhookRetries = 3
	DefaultWebhookBackoff = time.Second
	DefaultEmailTimeout   = 30 * time.Second
	DefaultEmailSubject   = `[respawn] {{.Trigger}}{{if .Service}} {{.Service}}{{end}}: {{.Message}}`
	DefaultEmailBody      = "{{.Message}}\n\nrule: {{.Rule}}\ntrigger: {{.Trigger}}\n{{if .Service}}service: {{.Service}}\n{{end}}host: {{.Host}}\ntime: {{.Time}}\n"
	defaultSMTPPort       = "587"
)

var defaultCrashLoop = CrashLoop{Restarts: 5, Window: time.Minute}

var defaultAlertRate = Limit{Burst: 5, Window: time.Hour}

const defaultStable = 30 * time.Second

// rawAlerts holds the section until the services are known: rules name them.
type rawAlerts struct {
	destinations, rules *yaml.Node
}

var alertsTable = table[rawAlerts]{build: func() map[string]func(*decoder, *rawAlerts, *yaml.Node, string) {
	return map[string]func(*decoder, *rawAlerts, *yaml.Node, string){
		"destinations": func(_ *decoder, a *rawAlerts, v *yaml.Node, _ string) { a.destinations = v },
		"rules":        func(_ *decoder, a *rawAlerts, v *yaml.Node, _ string) { a.rules = v },
	}
}, extensions: true}

// alerts reads the alerts section n (nil when absent) once the services
// are read, so that rules can be checked against them.
func (d *decoder) alerts(n *yaml.Node, services []*Service) Alerts {
	var out Alerts
	if n == nil {
		return out
	}
	var raw rawAlerts
	walk(d, n, "alerts", &alertsTable, &raw)
	pairs, _ := d.mapping(raw.destinations, "alerts.destinations")
	for _, p := range pairs {
		if !d.checkAlertName(p.key, "alerts.destinations", p.name) {
			continue
		}
		if dst := d.destination(p); dst != nil {
			out.Destinations = append(out.Destinations, dst)
		}
	}
	known := map[string]bool{}
	for _, p := range pairs {
		known[p.name] = true
	}
	pairs, _ = d.mapping(raw.rules, "alerts.rules")
	for _, p := range pairs {
		if !d.checkAlertName(p.key, "alerts.rules", p.name) {
			continue
		}
		if r := d.rule(p, known, services); r != nil {
			out.Rules = append(out.Rules, r)
		}
	}
	return out
}

// checkAlertName keeps names to what fits in an environment variable's
// value and a journal line without quoting.
func (d *decoder) checkAlertName(k *yaml.Node, path, name string) bool {
	if name == "" || strings.ContainsFunc(name, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		d.errorf(k, "%s: name %q may hold only letters, digits, '-', '_' and '.'", path, shorten(name))
		return false
	}
	return true
}

// destinationLayer collects a destination's keys: one kind, checked apart.
type destinationLayer struct {
	dst   AlertDestination
	kinds []*yaml.Node // the kind keys written
}

var destinationTable = table[destinationLayer]{build: func() map[string]func(*decoder, *destinationLayer, *yaml.Node, string) {
	return map[string]func(*decoder, *destinationLayer, *yaml.Node, string){
		"exec": func(d *decoder, l *destinationLayer, v *yaml.Node, p string) {
			e := &ExecAlert{Timeout: DefaultExecTimeout}
			walk(d, v, p, &execAlertTable, e)
			if e.Command == nil && resolve(v).Kind == yaml.MappingNode {
				d.errorf(resolve(v), "%s: missing required key %q", p, "command")
			}
			l.dst.Exec = e
		},
		"webhook": func(d *decoder, l *destinationLayer, v *yaml.Node, p string) {
			w := &WebhookAlert{Timeout: DefaultWebhookTimeout, Retries: DefaultWebhookRetries, Backoff: DefaultWebhookBackoff}
			pairs := walk(d, v, p, &webhookTable, w)
			written := slices.ContainsFunc(pairs, func(kv pair) bool { return kv.name == "url" })
			if !written && resolve(v).Kind == yaml.MappingNode {
				d.errorf(resolve(v), "%s: missing required key %q", p, "url")
			}
			l.dst.Webhook = w
		},
		"email": func(d *decoder, l *destinationLayer, v *yaml.Node, p string) {
			e := &EmailAlert{StartTLS: true, Subject: DefaultEmailSubject, Body: DefaultEmailBody, Timeout: DefaultEmailTimeout}
			walk(d, v, p, &emailTable, e)
			if resolve(v).Kind == yaml.MappingNode {
				for _, k := range []struct {
					name string
					set  bool
				}{{"server", e.Server != ""}, {"from", e.From != ""}, {"to", len(e.To) > 0}} {
					if !k.set {
						d.errorf(resolve(v), "%s: missing required key %q", p, k.name)
					}
				}
				if !e.Password.IsZero() && e.Username == "" {
					d.errorf(resolve(v), "%s: a password needs a username", p)
				}
				if e.Username != "" && !e.StartTLS {
					// net/smtp refuses to send a password in the clear to
					// anything but localhost, and so do we, everywhere.
					d.errorf(resolve(v), "%s: username needs starttls: the password is never sent unencrypted", p)
				}
			}
			l.dst.Email = e
		},
	}
}}

func (d *decoder) destination(p pair) *AlertDestination {
	path := "alerts.destinations." + p.name
	v := resolve(p.val)
	if isNull(v) || v.Kind != yaml.MappingNode {
		d.typeError(v, path, "a mapping with one of exec, webhook, email")
		return nil
	}
	l := &destinationLayer{dst: AlertDestination{Name: p.name}}
	before := d.nerrs
	for _, kv := range walk(d, v, path, &destinationTable, l) {
		if _, ok := destinationTable.keys()[kv.name]; ok {
			l.kinds = append(l.kinds, kv.key)
		}
	}
	switch {
	case len(l.kinds) == 0:
		d.errorf(v, "%s: needs one of exec, webhook, email", path)
	case len(l.kinds) > 1:
		d.errorf(l.kinds[1], "%s: only one of exec, webhook, email per destination (%s is at line %d)", path, l.kinds[0].Value, l.kinds[0].Line)
	}
	if d.nerrs > before {
		return nil
	}
	return &l.dst
}

var execAlertTable = table[ExecAlert]{build: func() map[string]func(*decoder, *ExecAlert, *yaml.Node, string) {
	return map[string]func(*decoder, *ExecAlert, *yaml.Node, string){
		"command": func(d *decoder, e *ExecAlert, v *yaml.Node, p string) {
			if c, ok := d.rawArgv(v, p); ok {
				e.At = Pos{Line: resolve(v).Line, Col: resolve(v).Column}
				e.Command = d.argv(field[rawCommand]{val: c, at: resolve(v)}, d.lookupEnv, p)
				if e.Command != nil && strings.ContainsRune(e.Command[0], '/') {
					e.Command[0] = d.abs(e.Command[0])
				}
			}
		},
		"timeout": func(d *decoder, e *ExecAlert, v *yaml.Node, p string) {
			if t, ok := d.positiveDuration(v, p); ok {
				e.Timeout = t
			}
		},
	}
}}

var webhookTable = table[WebhookAlert]{build: func() map[string]func(*decoder, *WebhookAlert, *yaml.Node, string) {
	return map[string]func(*decoder, *WebhookAlert, *yaml.Node, string){
		"url": func(d *decoder, w *WebhookAlert, v *yaml.Node, p string) {
			s, ok := d.str(v, p)
			if !ok {
				return
			}
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				d.errorf(resolve(v), "%s: %q is not an http:// or https:// URL", p, shorten(s))
				return
			}
			w.URL = s
		},
		"secret_env":  func(d *decoder, w *WebhookAlert, v *yaml.Node, p string) { d.secretEnv(v, p, &w.Secret) },
		"secret_file": func(d *decoder, w *WebhookAlert, v *yaml.Node, p string) { d.secretFile(v, p, &w.Secret) },
		"secret": func(d *decoder, _ *WebhookAlert, v *yaml.Node, p string) {
			d.errorf(resolve(v), "%s: a secret is never written in the config: use secret_env (a variable's name) or secret_file", p)
		},
		"timeout": func(d *decoder, w *WebhookAlert, v *yaml.Node, p string) {
			if t, ok := d.positiveDuration(v, p); ok {
				w.Timeout = t
			}
		},
		"retries": func(d *decoder, w *WebhookAlert, v *yaml.Node, p string) {
			if n, ok := d.integer(v, p, 0, 100); ok {
				w.Retries = n
			}
		},
		"backoff": func(d *decoder, w *WebhookAlert, v *yaml.Node, p string) {
			if t, ok := d.positiveDuration(v, p); ok {
				w.Backoff = t
			}
		},
	}
}}

var emailTable = table[EmailAlert]{build: func() map[string]func(*decoder, *EmailAlert, *yaml.Node, string) {
	return map[string]func(*decoder, *EmailAlert, *yaml.Node, string){
		"server": func(d *decoder, e *EmailAlert, v *yaml.Node, p string) {
			s, ok := d.str(v, p)
			if !ok {
				return
			}
			host, port, err := net.SplitHostPort(s)
			if err != nil {
				host, port = s, defaultSMTPPort
			}
			if n, err := strconv.Atoi(port); host == "" || err != nil || n < 1 || n > 65535 {
				d.errorf(resolve(v), "%s: %q is not HOST or HOST:PORT", p, shorten(s))
				return
			}
			e.Server = net.JoinHostPort(host, port)
		},
		"from": func(d *decoder, e *EmailAlert, v *yaml.Node, p string) {
			if s, ok := d.address(v, p); ok {
				e.From = s
			}
		},
		"to": func(d *decoder, e *EmailAlert, v *yaml.Node, p string) {
			for i, item := range d.stringList(v, p) {
				if s, ok := d.address(item, p+"["+strconv.Itoa(i)+"]"); ok {
					e.To = append(e.To, s)
				}
			}
		},
		"username": func(d *decoder, e *EmailAlert, v *yaml.Node, p string) {
			if s, ok := d.str(v, p); ok {
				e.Username = s
			}
		},
		"password_env":  func(d *decoder, e *EmailAlert, v *yaml.Node, p string) { d.secretEnv(v, p, &e.Password) },
		"password_file": func(d *decoder, e *EmailAlert, v *yaml.Node, p string) { d.secretFile(v, p, &e.Password) },
		"password": func(d *decoder, _ *EmailAlert, v *yaml.Node, p string) {
			d.errorf(resolve(v), "%s: a password is never written in the config: use password_env (a variable's name) or password_file", p)
		},
		"starttls": func(d *decoder, e *EmailAlert, v *yaml.Node, p string) {
			if b, ok := d.boolean(v, p); ok {
				e.StartTLS = b
			}
		},
		"ca_file": func(d *decoder, e *EmailAlert, v *yaml.Node, p string) {
			if f, ok := d.str(v, p); ok {
				e.CAFile = d.abs(f)
				pem, err := readRegular(e.CAFile)
				switch {
				case err != nil:
					d.errorAt(resolve(v), err, "%s: %v", p, err)
				case !x509.NewCertPool().AppendCertsFromPEM(pem):
					d.errorf(resolve(v), "%s: %s holds no PEM certificate", p, e.CAFile)
				}
			}
		},
		"subject": func(d *decoder, e *EmailAlert, v *yaml.Node, p string) {
			if s, ok := d.alertTemplate(v, p); ok {
				if strings.ContainsAny(s, "\r\n") {
					d.errorf(resolve(v), "%s: a subject is one line", p)
					return
				}
				e.Subject = s
			}
		},
		"body": func(d *decoder, e *EmailAlert, v *yaml.Node, p string) {
			if s, ok := d.alertTemplate(v, p); ok {
				e.Body = s
			}
		},
		"timeout": func(d *decoder, e *EmailAlert, v *yaml.Node, p string) {
			if t, ok := d.positiveDuration(v, p); ok {
				e.Timeout = t
			}
		},
	}
}}

// address reads one mail address ("ops@example.com" or "Ops <ops@example.com>").
func (d *decoder) address(v *yaml.Node, p string) (string, bool) {
	s, ok := d.str(v, p)
	if !ok {
		return "", false
	}
	if _, err := mail.ParseAddress(s); err != nil {
		d.errorAt(resolve(v), err, "%s: %q is not a mail address: %v", p, shorten(s), err)
		return "", false
	}
	return s, true
}

// stringList reads a string or a list of strings as a list of nodes.
func (d *decoder) stringList(v *yaml.Node, p string) []*yaml.Node {
	n := resolve(v)
	if n.Kind == yaml.ScalarNode {
		return []*yaml.Node{n}
	}
	items, ok := d.list(n, p, "a string or a list of strings")
	if ok && len(items) == 0 {
		d.errorf(n, "%s: must not be empty", p)
	}
	return items
}

func (d *decoder) secretEnv(v *yaml.Node, p string, s *Secret) {
	name, ok := d.str(v, p)
	if !ok {
		return
	}
	if name == "" || strings.ContainsAny(name, "=$ \t") {
		d.errorf(resolve(v), "%s: %q is not an environment variable's name (write NAME, not ${NAME})", p, shorten(name))
		return
	}
	if s.File != "" {
		d.errorf(resolve(v), "%s: set either the _env or the _file key, not both", p)
		return
	}
	// Not checked here: `respawn status` loads the config in a shell that
	// need not hold the secret; the supervisor reports a missing variable
	// when it starts and with each alert it cannot send.
	s.Env = name
}

func (d *decoder) secretFile(v *yaml.Node, p string, s *Secret) {
	f, ok := d.str(v, p)
	if !ok {
		return
	}
	if f == "" {
		d.errorf(resolve(v), "%s: must not be empty", p)
		return
	}
	if s.Env != "" {
		d.errorf(resolve(v), "%s: set either the _env or the _file key, not both", p)
		return
	}
	s.File = d.abs(f)
	// A file that is there but unreadable to whoever loads the config is
	// fine (the supervisor's user may read it); one that is missing or is
	// not a file is a mistake in the config.
	st, err := os.Stat(s.File)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.errorAt(resolve(v), err, "%s: %s does not exist", p, s.File)
	case err == nil && !st.Mode().IsRegular():
		d.errorf(resolve(v), "%s: %s is not a regular file", p, s.File)
	}
}

// alertTemplate reads a text/template source and checks it against the
// fields an alert has, so that a typo is a config error and not a failed
// alert the day it is needed.
func (d *decoder) alertTemplate(v *yaml.Node, p string) (string, bool) {
	n := resolve(v)
	if n == nil || n.Kind != yaml.ScalarNode || isNull(n) {
		d.typeError(n, p, "a template string")
		return "", false
	}
	// Not expanded: {{ }} is the template's, and ${ } has no business here.
	s := n.Value
	t, err := template.New(p).Option("missingkey=error").Parse(s)
	if err != nil {
		d.errorAt(n, err, "%s: bad template: %v", p, err)
		return "", false
	}
	sample := map[string]any{}
	for _, f := range AlertTemplateFields {
		sample[f] = ""
	}
	// Event is nil: a field of it cannot be checked here, and its errors
	// are not "map has no entry".
	sample["Restarts"], sample["Test"], sample["Time"], sample["Event"] = 0, false, time.Time{}, nil
	if err := t.Execute(discard{}, sample); err != nil && strings.Contains(err.Error(), "map has no entry") {
		d.errorAt(n, err, "%s: bad template: %v (an alert has %s)", p, err, strings.Join(AlertTemplateFields, ", "))
		return "", false
	}
	return s, true
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// ruleLayer collects a rule's keys; the checks that span them follow.
type ruleLayer struct {
	r       AlertRule
	toAt    []*yaml.Node
	svcAt   []*yaml.Node
	onAt    *yaml.Node
	toNode  *yaml.Node
	loopSet *yaml.Node
}

var ruleTable = table[ruleLayer]{build: func() map[string]func(*decoder, *ruleLayer, *yaml.Node, string) {
	return map[string]func(*decoder, *ruleLayer, *yaml.Node, string){
		"on": func(d *decoder, l *ruleLayer, v *yaml.Node, p string) {
			l.onAt = resolve(v)
			for i, item := range d.stringList(v, p) {
				ip := p
				if resolve(v).Kind == yaml.SequenceNode {
					ip += "[" + strconv.Itoa(i) + "]"
				}
				s, ok := d.str(item, ip)
				if !ok {
					continue
				}
				if !slices.Contains(AlertTriggers, AlertTrigger(s)) {
					names := make([]string, len(AlertTriggers))
					for i, t := range AlertTriggers {
						names[i] = string(t)
					}
					d.errorf(resolve(item), "%s: %q is not one of %s", ip, shorten(s), strings.Join(names, ", "))
					continue
				}
				if !slices.Contains(l.r.On, AlertTrigger(s)) {
					l.r.On = append(l.r.On, AlertTrigger(s))
				}
			}
		},
		"to": func(d *decoder, l *ruleLayer, v *yaml.Node, p string) {
			l.toNode = resolve(v)
			for _, item := range d.stringList(v, p) {
				if s, ok := d.str(item, p); ok {
					l.r.To = append(l.r.To, s)
					l.toAt = append(l.toAt, resolve(item))
				}
			}
		},
		"services": func(d *decoder, l *ruleLayer, v *yaml.Node, p string) {
			for _, item := range d.stringList(v, p) {
				if s, ok := d.str(item, p); ok {
					l.r.Services = append(l.r.Services, s)
					l.svcAt = append(l.svcAt, resolve(item))
				}
			}
		},
		"crash_loop": func(d *decoder, l *ruleLayer, v *yaml.Node, p string) {
			l.loopSet = resolve(v)
			walk(d, v, p, &crashLoopTable, &l.r.CrashLoop)
		},
		"stable": func(d *decoder, l *ruleLayer, v *yaml.Node, p string) {
			if t, ok := d.positiveDuration(v, p); ok {
				l.r.Stable = t
			}
		},
		"rate_limit": func(d *decoder, l *ruleLayer, v *yaml.Node, p string) {
			walk(d, v, p, &rateTable, &l.r.RateLimit)
		},
	}
}}

var crashLoopTable = table[CrashLoop]{build: func() map[string]func(*decoder, *CrashLoop, *yaml.Node, string) {
	return map[string]func(*decoder, *CrashLoop, *yaml.Node, string){
		"restarts": func(d *decoder, c *CrashLoop, v *yaml.Node, p string) {
			if n, ok := d.integer(v, p, 2, 1000); ok {
				c.Restarts = n
			}
		},
		"window": func(d *decoder, c *CrashLoop, v *yaml.Node, p string) {
			if t, ok := d.positiveDuration(v, p); ok {
				c.Window = t
			}
		},
	}
}}

var rateTable = table[Limit]{build: func() map[string]func(*decoder, *Limit, *yaml.Node, string) {
	return map[string]func(*decoder, *Limit, *yaml.Node, string){
		"burst": func(d *decoder, l *Limit, v *yaml.Node, p string) {
			if n, ok := d.integer(v, p, 1, math.MaxInt); ok {
				l.Burst = n
			}
		},
		"window": func(d *decoder, l *Limit, v *yaml.Node, p string) {
			if t, ok := d.positiveDuration(v, p); ok {
				l.Window = t
			}
		},
	}
}}

func (d *decoder) rule(p pair, destinations map[string]bool, services []*Service) *AlertRule {
	path := "alerts.rules." + p.name
	v := resolve(p.val)
	if isNull(v) || v.Kind != yaml.MappingNode {
		d.typeError(v, path, "a mapping")
		return nil
	}
	l := &ruleLayer{r: AlertRule{Name: p.name, CrashLoop: defaultCrashLoop, Stable: defaultStable, RateLimit: defaultAlertRate}}
	before := d.nerrs
	walk(d, v, path, &ruleTable, l)
	if l.onAt == nil {
		d.errorf(v, "%s: missing required key %q", path, "on")
	}
	if l.toNode == nil {
		d.errorf(v, "%s: missing required key %q", path, "to")
	}
	for i, name := range l.r.To {
		if !destinations[name] {
			if s := suggest(name, slices.Sorted(maps.Keys(destinations))); s != "" {
				d.errorf(l.toAt[i], "%s.to: unknown destination %q (did you mean %q?)", path, shorten(name), s)
			} else {
				d.errorf(l.toAt[i], "%s.to: unknown destination %q (alerts.destinations has no such name)", path, shorten(name))
			}
		}
	}
	var expanded []string
	for i, name := range l.r.Services {
		found := false
		for _, s := range services {
			if s.Name == name || s.ReplicaOf == name {
				found = true
				if !slices.Contains(expanded, s.Name) {
					expanded = append(expanded, s.Name)
				}
			}
		}
		if !found {
			d.errorf(l.svcAt[i], "%s.services: unknown service %q", path, shorten(name))
		}
	}
	l.r.Services = expanded
	if l.loopSet != nil && !l.r.Has(TriggerCrashLoop) && !l.r.Has(TriggerRecovered) {
		d.errorf(l.loopSet, "%s.crash_loop: the rule has no crash_loop (or recovered) in on", path)
	}
	if d.nerrs > before {
		return nil
	}
	return &l.r
}
