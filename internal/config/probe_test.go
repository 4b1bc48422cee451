package config

import (
	"errors"
	"reflect"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
	"time"
)

func TestProbesValid(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		env    map[string]string
		files  map[string]string
		svc    string
		ready  *Probe
		health *Probe
	}{
		{
			name:  "tcp with defaults",
			src:   "version: 1\nservices:\n  db: {command: db, ready: {tcp: \"127.0.0.1:5432\"}}\n",
			svc:   "db",
			ready: &Probe{TCP: "127.0.0.1:5432", Interval: time.Second, Timeout: time.Second, Deadline: time.Minute},
		},
		{
			name: "http with timings",
			src: `version: 1
services:
  api:
    command: api
    ready: {http: "http://127.0.0.1:${PORT:-8080}/healthz", timeout: 2s, deadline: 30s, interval: 500ms}
    health: {http: "https://[::1]:8443/live", interval: 5s, failures: 2, memory_max: 512MB}
`,
			env:    map[string]string{"PORT": "9000"},
			svc:    "api",
			ready:  &Probe{HTTP: "http://127.0.0.1:9000/healthz", Interval: 500 * time.Millisecond, Timeout: 2 * time.Second, Deadline: 30 * time.Second},
			health: &Probe{HTTP: "https://[::1]:8443/live", Interval: 5 * time.Second, Timeout: time.Second, Failures: 2, MemoryMax: 512_000_000},
		},
		{
			name:   "exec as a list and as a string, with env_file variables",
			src:    "version: 1\nservices:\n  db:\n    command: db\n    env_file: .env\n    ready: {exec: [pg_isready, \"-h\", \"${HOST}\"]}\n    health: {exec: \"pg_isready -q -h '${HOST}'\"}\n",
			files:  map[string]string{".env": "HOST=db host\n"},
			svc:    "db",
			ready:  &Probe{Exec: []string{"pg_isready", "-h", "db host"}, Interval: time.Second, Timeout: time.Second, Deadline: time.Minute},
			health: &Probe{Exec: []string{"pg_isready", "-q", "-h", "db host"}, Interval: 10 * time.Second, Timeout: time.Second, Failures: 3},
		},
		{
			name:  "log",
			src:   "version: 1\nservices:\n  w: {command: w, ready: {log: 'listening on \\d+$'}}\n",
			svc:   "w",
			ready: &Probe{Log: regexp.MustCompile(`listening on \d+$`), Interval: time.Second, Timeout: time.Second, Deadline: time.Minute},
		},
		{
			name:   "notify with watchdog",
			src:    "version: 1\nservices:\n  n: {command: n, ready: {notify: true}, health: {notify: true, watchdog: 30s}}\n",
			svc:    "n",
			ready:  &Probe{Notify: true, Interval: time.Second, Timeout: time.Second, Deadline: time.Minute},
			health: &Probe{Notify: true, Watchdog: 30 * time.Second, Interval: 10 * time.Second, Timeout: time.Second, Failures: 3},
		},
		{
			name:   "memory only",
			src:    "version: 1\nservices:\n  m: {command: m, health: {memory_max: 1GiB}}\n",
			svc:    "m",
			health: &Probe{MemoryMax: 1 << 30, Interval: 10 * time.Second, Timeout: time.Second, Failures: 3},
		},
		{
			name: "defaults merge key by key; a kind in the service replaces the defaults' kind",
			src: `version: 1
defaults:
  ready: {http: "http://localhost/ready", timeout: 3s}
  health: {interval: 1m, memory_max: 1GB}
services:
  a:
    command: a
    ready: {tcp: "localhost:postgresql", notify: false}
    health: {http: "http://localhost/live"}
`,
			svc:    "a",
			ready:  &Probe{TCP: "localhost:postgresql", Interval: time.Second, Timeout: 3 * time.Second, Deadline: time.Minute},
			health: &Probe{HTTP: "http://localhost/live", Interval: time.Minute, Timeout: time.Second, Failures: 3, MemoryMax: 1_000_000_000},
		},
		{
			name: "a probe from the defaults applies as written",
			src: `version: 1
defaults:
  ready: {http: "http://localhost/ready", timeout: 3s}
  health: {memory_max: 1GB}
services:
  b: {command: b}
`,
			svc:    "b",
			ready:  &Probe{HTTP: "http://localhost/ready", Interval: time.Second, Timeout: 3 * time.Second, Deadline: time.Minute},
			health: &Probe{Interval: 10 * time.Second, Timeout: time.Second, Failures: 3, MemoryMax: 1_000_000_000},
		},
		{
			name: "timings alone in the defaults add no probe; memory_max: 0 turns the defaults' off",
			src: `version: 1
defaults:
  ready: {interval: 2s}
  health: {memory_max: 1GB}
services:
  c: {command: c, health: {memory_max: 0}}
`,
			svc: "c",
		},
		{
			name: "a oneshot takes ready, and no health from the defaults",
			src: `version: 1
defaults:
  health: {tcp: ":80"}
services:
  m: {command: m, kind: oneshot, ready: {exec: "true"}}
`,
			svc:   "m",
			ready: &Probe{Exec: []string{"true"}, Interval: time.Second, Timeout: time.Second, Deadline: time.Minute},
		},
		{
			name: "replicas see their instance number",
			src: `version: 1
services:
  w:
    command: w
    replicas: 2
    ready: {tcp: "127.0.0.1:80${RESPAWN_INSTANCE}"}
`,
			svc:   "w.2",
			ready: &Probe{TCP: "127.0.0.1:802", Interval: time.Second, Timeout: time.Second, Deadline: time.Minute},
		},
		{
			name: "null and values through variables",
			src: `version: 1
services:
  v:
    command: v
    ready: {tcp: "${ADDR}", interval: "${IVL}", timeout: ~}
    health:
`,
			env:   map[string]string{"ADDR": "db:5432", "IVL": "250ms"},
			svc:   "v",
			ready: &Probe{TCP: "db:5432", Interval: 250 * time.Millisecond, Timeout: time.Second, Deadline: time.Minute},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := parseIn(t, tc.src, tc.env, tc.files)
			if err != nil {
				t.Fatal(err)
			}
			s := c.Service(tc.svc)
			if s == nil {
				t.Fatalf("no service %q", tc.svc)
			}
			if !reflect.DeepEqual(s.Ready, tc.ready) {
				t.Errorf("Ready = %+v\nwant    %+v", s.Ready, tc.ready)
			}
			if !reflect.DeepEqual(s.Health, tc.health) {
				t.Errorf("Health = %+v\nwant     %+v", s.Health, tc.health)
			}
		})
	}
}

func TestProbesInvalid(t *testing.T) {
	tests := []struct {
		name string
		src  string
		env  map[string]string
		want []string
	}{
		{
			name: "kinds: none, two, three",
			src: `version: 1
services:
  a: {command: a, ready: {interval: 1s}}
  b: {command: b, ready: {http: "http://x", tcp: "x:1"}}
  c: {command: c, health: {exec: x, notify: true, tcp: "x:1"}}
  d: {command: d, health: {timeout: 1s}}
  e: {command: e, ready: {notify: false}}
  f: {command: f, ready: {}}
`,
			want: []string{
				`r.yaml:3:26: services.a.ready: needs one of exec, http, tcp, log, notify`,
				`r.yaml:4:50: services.b.ready: takes exactly one of exec, http, tcp, log, notify; got http and tcp`,
				`r.yaml:5:45: services.c.health: takes exactly one of exec, http, tcp, notify; got exec and notify and tcp`,
				`r.yaml:6:27: services.d.health: needs one of exec, http, tcp, notify, or memory_max`,
				`r.yaml:7:26: services.e.ready: needs one of exec, http, tcp, log, notify`,
				`r.yaml:8:26: services.f.ready: needs one of exec, http, tcp, log, notify`,
			},
		},
		{
			name: "keys of the other block",
			src: `version: 1
services:
  a:
    command: a
    ready: {tcp: "x:1", failures: 2, memory_max: 1GB, watchdog: 1s}
    health: {tcp: "x:1", log: ready, deadline: 1m}
`,
			want: []string{
				`r.yaml:5:35: services.a.ready.failures: only health takes failures; ready gives up after its deadline`,
				`r.yaml:5:50: services.a.ready.memory_max: only health takes memory_max`,
				`r.yaml:5:65: services.a.ready.watchdog: only health takes watchdog`,
				`r.yaml:6:31: services.a.health.log: only ready takes log: output tells that a service started, not that it is still alive`,
				`r.yaml:6:48: services.a.health.deadline: only ready takes deadline; health restarts after failures in a row`,
			},
		},
		{
			name: "values",
			src: `version: 1
services:
  a:
    command: a
    ready: {http: "ftp://x/", interval: 0s, timeout: 0, deadline: -1s}
    health: {http: "http:///x", failures: 0, memory_max: 1.5B, watchdog: soon, notify: maybe}
  b:
    command: b
    ready: {http: "http://[::1", timeout: 1}
    health: {tcp: "localhost", interval: [1s]}
  c:
    command: c
    ready: {tcp: "x:0"}
    health: {tcp: "x:http alt"}
  d:
    command: d
    ready: {log: "(unclosed"}
  e:
    command: e
    ready: {log: ""}
    health: {exec: []}
  f:
    command: f
    ready: {exec: "'x"}
    health: {exec: ["", x]}
  g:
    command: g
    ready: {exec: ["${EMPTY}"]}
    health: {exec: "${EMPTY}"}
  h:
    command: h
    ready: {exec: [[x]], notify: 1}
    health: {exec: "  "}
  i:
    command: i
    ready: []
    health: x
`,
			want: []string{
				`r.yaml:5:19: services.a.ready.http: "ftp://x/" is not an http:// or https:// URL`,
				`r.yaml:5:41: services.a.ready.interval: must be more than 0`,
				`r.yaml:5:54: services.a.ready.timeout: must be more than 0`,
				`r.yaml:5:67: services.a.ready.deadline: duration -1s is negative`,
				`r.yaml:6:20: services.a.health.http: "http:///x" has no host`,
				`r.yaml:6:43: services.a.health.failures: 0 is out of range (at least 1)`,
				`r.yaml:6:58: services.a.health.memory_max: invalid size "1.5B": not a whole number of bytes`,
				`r.yaml:6:74: services.a.health.watchdog: expected a duration such as "100ms", "5m" or "1h30m", got "soon"`,
				`r.yaml:6:88: services.a.health.notify: expected true or false, got "maybe"`,
				`r.yaml:9:19: services.b.ready.http: invalid URL: parse "http://[::1": missing ']' in host`,
				`r.yaml:9:43: services.b.ready.timeout: "1" needs a unit, such as "1s"`,
				`r.yaml:10:19: services.b.health.tcp: expected HOST:PORT such as 127.0.0.1:5432, got "localhost"`,
				`r.yaml:10:42: services.b.health.interval: expected a duration, got a list`,
				`r.yaml:13:18: services.c.ready.tcp: port 0 in "x:0" is out of range (1 to 65535)`,
				`r.yaml:14:19: services.c.health.tcp: port "http alt" in "x:http alt" is neither a number nor a service name`,
				"r.yaml:17:18: services.d.ready.log: invalid regular expression: error parsing regexp: missing closing ): `(unclosed`",
				`r.yaml:20:18: services.e.ready.log: must not be empty (it would match any line)`,
				`r.yaml:21:20: services.e.health.exec: must not be empty`,
				`r.yaml:24:19: services.f.ready.exec: invalid command: unterminated single quote at byte 0 of "'x"`,
				`r.yaml:25:20: services.f.health.exec: the program name is empty`,
				`r.yaml:28:19: services.g.ready.exec: the program name is empty`,
				`r.yaml:29:20: services.g.health.exec: empty once variables are expanded`,
				`r.yaml:32:20: services.h.ready.exec[0]: expected a string, got a list`,
				`r.yaml:32:34: services.h.ready.notify: expected true or false, got "1"`,
				`r.yaml:33:20: services.h.health.exec: must not be empty`,
				`r.yaml:36:12: services.i.ready: expected a mapping, got a list`,
				`r.yaml:37:13: services.i.health: expected a mapping, got "x"`,
			},
		},
		{
			name: "notify and watchdog go together",
			src: `version: 1
defaults:
  health: {watchdog: 10s}
services:
  a: {command: a, health: {notify: true, watchdog: 0s}}
  b: {command: b, health: {http: "http://x", watchdog: 5s}}
  c: {command: c, health: {tcp: "x:1"}}
  d: {command: d, health: {notify: true}}
  e: {command: e, health: {memory_max: 1GB}}
`,
			want: []string{
				`r.yaml:3:22: services.c.health.watchdog: needs notify: true (the probe is tcp)`,
				`r.yaml:3:22: services.e.health.watchdog: needs notify: true`,
				`r.yaml:5:36: services.a.health.notify: needs watchdog, the longest time allowed between WATCHDOG=1 pings`,
				`r.yaml:6:56: services.b.health.watchdog: needs notify: true (the probe is http)`,
			},
		},
		{
			name: "health on a oneshot",
			src: `version: 1
services:
  migrate:
    kind: oneshot
    command: ./migrate
    ready: {exec: [true]}
    health: {tcp: "x:1"}
`,
			want: []string{
				`r.yaml:7:13: services.migrate.health: health checks a long-running service; migrate is a oneshot`,
			},
		},
		{
			name: "a mistake in the defaults is reported once, at the defaults",
			src: `version: 1
defaults:
  ready: {http: "localhost:8080/x", tcp: "x:1"}
  health: {log: x}
services:
  a: {command: a}
  b: {command: b}
`,
			want: []string{
				`r.yaml:3:17: defaults.ready.http: "localhost:8080/x" is not an http:// or https:// URL`,
				`r.yaml:3:42: defaults.ready: takes exactly one of exec, http, tcp, log, notify; got http and tcp`,
				`r.yaml:4:17: defaults.health.log: only ready takes log: output tells that a service started, not that it is still alive`,
			},
		},
		{
			name: "expanded values are checked per service, at the value",
			src: `version: 1
defaults:
  ready: {http: "${URL}"}
services:
  a: {command: a}
  b: {command: b, replicas: 2, health: {tcp: "x:${RESPAWN_INSTANCE}0000000"}}
  c: {command: c, ready: {log: "${RE}"}}
`,
			env: map[string]string{"URL": "http//x", "RE": "a**"},
			want: []string{
				`r.yaml:3:17: defaults.ready.http: "http//x" is not an http:// or https:// URL`,
				`r.yaml:6:46: services.b.health.tcp: port 10000000 in "x:10000000" is out of range (1 to 65535)`,
				"r.yaml:7:32: services.c.ready.log: invalid regular expression: error parsing regexp: invalid nested repetition operator: `**`",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, dir, err := parseIn(t, tc.src, tc.env, nil)
			if c != nil {
				t.Fatalf("got a config, want errors")
			}
			if got := errorLines(err, dir); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// The regexp's own error stays reachable under the positioned one.
func TestProbeLogErrorUnwraps(t *testing.T) {
	_, _, err := parseIn(t, "version: 1\nservices:\n  a: {command: a, ready: {log: \"(\"}}\n", nil, nil)
	var se *syntax.Error
	if !errors.As(err, &se) || se.Code != syntax.ErrMissingParen {
		t.Fatalf("err = %v, want a *syntax.Error with ErrMissingParen", err)
	}
}
