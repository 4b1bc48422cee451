package exporter

import "testing"

// unmapped is every key some target cannot carry over, as a service s
// that uses it (with the services it depends on), and the formats that must name
// it in their notes.
var unmapped = []struct {
	key, services string
	formats       []string
}{
	{"kind", "s: {kind: external, unit: nginx}", []string{"systemd", "compose", "kubernetes", "nomad"}},
	{"kind", `s: {kind: forking, command: [sleep, "1"], pidfile: x.pid}`, []string{"compose", "kubernetes", "nomad"}},
	{"ready.log", `s: {command: [sleep, "1"], ready: {log: "up"}}`, []string{"systemd", "compose", "kubernetes", "nomad"}},
	{"ready.notify", `s: {command: [sleep, "1"], ready: {notify: true}}`, []string{"compose", "kubernetes", "nomad"}},
	{"ready.http", `s: {command: [sleep, "1"], ready: {http: "http://127.0.0.1:1/"}}`, []string{"systemd"}},
	{"ready.tcp", `s: {command: [sleep, "1"], ready: {tcp: "127.0.0.1:1"}}`, []string{"systemd"}},
	{"ready.exec", `s: {command: [sleep, "1"], ready: {exec: [true]}}`, []string{"systemd", "nomad"}},
	{"health.http", `s: {command: [sleep, "1"], health: {http: "http://127.0.0.1:1/"}}`, []string{"systemd", "compose"}},
	{"health.tcp", `s: {command: [sleep, "1"], health: {tcp: "127.0.0.1:1"}}`, []string{"systemd", "compose"}},
	{"health.exec", `s: {command: [sleep, "1"], health: {exec: [true]}}`, []string{"systemd", "compose", "nomad"}},
	{"health.notify", `s: {command: [sleep, "1"], ready: {notify: true}, health: {notify: true, watchdog: 1m}}`, []string{"compose", "kubernetes", "nomad"}},
	{"depends_on.d.restart", `s: {command: [sleep, "1"], depends_on: {d: {restart: true}}}
  d: {command: [sleep, "1"]}`, []string{"systemd", "compose", "kubernetes", "nomad"}},
	{"depends_on.d", `s: {command: [sleep, "1"], depends_on: {d: ready}}
  d: {command: [sleep, "1"], ready: {tcp: "127.0.0.1:1"}}`, []string{"systemd"}},
	{"depends_on.d", `s: {command: [sleep, "1"], depends_on: {d: ready}}
  d: {command: [sleep, "1"], ready: {log: "up"}}`, []string{"systemd", "compose", "nomad"}},
	{"depends_on.x", `s: {command: [sleep, "1"], depends_on: [x]}
  x: {kind: external, match: "^x$"}`, []string{"systemd", "compose", "kubernetes", "nomad"}},
	{"restart.backoff", `s: {command: [sleep, "1"], restart: {backoff: {initial: 1s, max: 1m}}}`, []string{"systemd", "compose", "kubernetes", "nomad"}},
	{"restart.reset_after", `s: {command: [sleep, "1"], restart: {reset_after: 1m}}`, []string{"systemd", "compose", "kubernetes", "nomad"}},
	{"restart.limit", `s: {command: [sleep, "1"], restart: {limit: {burst: 3}}}`, []string{"compose", "kubernetes"}},
	{"restart.cooldown", `s: {command: [sleep, "1"], restart: {cooldown: 1m}}`, []string{"systemd", "compose", "kubernetes", "nomad"}},
	{"restart.success_codes", `s: {command: [sleep, "1"], restart: {success_codes: [1]}}`, []string{"systemd", "compose", "kubernetes", "nomad"}},
	{"restart.policy", `s: {kind: oneshot, command: [sleep, "1"], restart: {policy: always}}`, []string{"systemd", "kubernetes", "nomad"}},
	{"schedule", `s: {kind: oneshot, command: [sleep, "1"], schedule: "@daily"}`, []string{"compose", "kubernetes", "nomad"}},
	{"replicas", `s: {command: [sleep, "1"], replicas: 2}`, []string{"compose", "kubernetes", "nomad"}},
	{"stop.command", `s: {command: [sleep, "1"], stop: {command: [kill, "0"]}}`, []string{"compose", "nomad"}},
	{"umask", `s: {command: [sleep, "1"], umask: "077"}`, []string{"compose", "kubernetes", "nomad"}},
	{"listen", `s: {command: [sleep, "1"], listen: ["tcp://127.0.0.1:8080"]}`, []string{"systemd", "compose", "kubernetes", "nomad"}},
	{"restart.strategy", `s: {command: [sleep, "1"], restart: {strategy: start-first}}`, []string{"systemd", "compose", "kubernetes", "nomad"}},
	{"rlimits.as", `s: {command: [sleep, "1"], rlimits: {as: 1000000000}}`, []string{"compose"}},
	{"group", `s: {command: [sleep, "1"], group: web}`, []string{"systemd", "compose", "kubernetes", "nomad"}},
	{"logs", `s: {command: [sleep, "1"], logs: {max_size: 1MB}}`, []string{"systemd", "kubernetes"}},
	{"command", `s: {command: [no-such-program-anywhere]}`, []string{"systemd"}},
	{"depends_on.d", `s: {command: [sleep, "1"], depends_on: [d]}
  d: {command: [sleep, "1"]}`, []string{"kubernetes", "nomad"}},
	{"stop.signal", `s: {command: [sleep, "1"], stop: {signal: INT}}`, []string{"kubernetes"}},
	{"user", `s: {command: [sleep, "1"], user: daemon}`, []string{"kubernetes", "nomad"}},
	{"ready.interval", `s: {command: [sleep, "1"], ready: {exec: [true], interval: 500ms}}`, []string{"kubernetes"}},
	{"rlimits.nofile", `s: {command: [sleep, "1"], rlimits: {nofile: 1024}}`, []string{"kubernetes", "nomad"}},
	{"autostart", `s: {kind: oneshot, command: [sleep, "1"], schedule: "@daily", autostart: true}`, []string{"kubernetes", "nomad"}},
	{"schedule", `s: {kind: oneshot, command: [sleep, "1"], schedule: "@every 7m"}`, []string{"kubernetes", "nomad"}},
	{"restart.policy", `s: {command: [sleep, "1"], restart: {policy: on-failure}}`, []string{"kubernetes", "nomad"}},
	{"ready.exec", `s: {kind: oneshot, command: [sleep, "1"], ready: {exec: [true]}}
  d: {command: [sleep, "1"], depends_on: {s: completed}}`, []string{"nomad"}},
	{"replicas", `s: {kind: oneshot, command: [sleep, "1"], replicas: 2}
  d: {command: [sleep, "1"], depends_on: {s: completed}}`, []string{"nomad"}},
	{"ready.deadline", `s: {command: [sleep, "1"], ready: {http: "http://127.0.0.1:1/", deadline: 5s}}`, []string{"nomad"}},
	{"restart.limit", `s: {command: [sleep, "1"], restart: {limit: {burst: 0}}}`, []string{"nomad"}},
}

var formats = map[string]func(*testing.T, string) Result{
	"systemd": func(t *testing.T, text string) Result {
		r, err := Systemd(loadText(t, text), DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		return r
	},
	"kubernetes": func(t *testing.T, text string) Result {
		r, err := Kubernetes(loadText(t, text), Options{Image: "x"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	},
	"nomad": func(t *testing.T, text string) Result {
		r, err := Nomad(loadText(t, text), DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		return r
	},
	"compose": func(t *testing.T, text string) Result {
		r, err := Compose(loadText(t, text), Options{Image: "x"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	},
}

func TestEveryUnmappedKeyIsNoted(t *testing.T) {
	t.Parallel()
	for _, c := range unmapped {
		text := "version: 1\nservices:\n  " + c.services + "\n"
		for _, f := range c.formats {
			r := formats[f](t, text)
			service := "s"
			if c.key == "replicas" {
				service = "s.1"
			}
			noted(t, r, service, c.key)
		}
	}
}
