package config

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseKindsAndGroups(t *testing.T) {
	tests := []struct {
		name string
		src  string
		env  map[string]string
		// want builds the services; a Match is compared by its expression.
		want func(dir string) []*Service
	}{
		{
			name: "user with and without a group, merged as one key",
			src: `version: 1
defaults: {user: "www:www"}
services:
  a: {command: a}
  b: {command: b, user: app}
  c: {command: c, user: "1000:1001"}
  d: {command: d, user: "${RUN_AS}"}
`,
			want: func(dir string) []*Service {
				a, b, c, d := svc("a", 4, dir, "a"), svc("b", 5, dir, "b"), svc("c", 6, dir, "c"), svc("d", 7, dir, "d")
				a.User, a.Group = "www", "www"
				b.User = "app"
				c.User, c.Group = "1000", "1001"
				return []*Service{a, b, c, d}
			},
		},
		{
			name: "group labels services, from defaults, and an empty one leaves it",
			src: `version: 1
defaults: {group: web}
services:
  a: {command: a}
  b: {command: b, group: ""}
  c: {command: c, group: db-1.x, replicas: 2}
`,
			want: func(dir string) []*Service {
				a, b := svc("a", 4, dir, "a"), svc("b", 5, dir, "b")
				a.ServiceGroup = "web"
				var out []*Service
				out = append(out, a, b)
				for i, name := range []string{"c.1", "c.2"} {
					c := svc(name, 6, dir, "c")
					c.ServiceGroup, c.ReplicaOf, c.Instance = "db-1.x", "c", i+1
					c.Env = []string{"RESPAWN_INSTANCE=" + name[2:]}
					out = append(out, c)
				}
				return out
			},
		},
		{
			name: "forking with a relative pidfile",
			src: `version: 1
services:
  d:
    kind: forking
    command: ./d --daemon
    pidfile: run/${NAME}.pid
    replicas: 1
    stop: {command: ./d --stop, timeout: 3s}
`,
			env: map[string]string{"NAME": "dd"},
			want: func(dir string) []*Service {
				s := svc("d", 3, dir, "./d", "--daemon")
				s.Kind, s.Env = KindForking, []string{"RESPAWN_INSTANCE=1"}
				s.Pidfile = filepath.Join(dir, "run", "dd.pid")
				s.Stop = Stop{Signal: "TERM", Timeout: 3 * time.Second, Command: []string{"./d", "--stop"}}
				return []*Service{s}
			},
		},
		{
			name: "external by pidfile, match or unit",
			src: `version: 1
defaults: {restart: {policy: on-failure}}
services:
  nginx:
    kind: external
    pidfile: /run/nginx.pid
    start: ["systemctl", "start", "nginx"]
    stop: {command: systemctl stop nginx}
    ready: {tcp: ":80"}
    depends_on: [cron]
  worker:
    kind: external
    match: "^worker: master( |$)"
    start: ./worker --port ${PORT}
    env_file: w.env
  cron: {kind: external, unit: cron}
  tick: {kind: external, unit: "tick@1.timer", autostart: false}
`,
			env: map[string]string{"PORT": "1"},
			want: func(dir string) []*Service {
				nginx, worker, cron, tick := svc("nginx", 4, dir), svc("worker", 11, dir), svc("cron", 16, dir), svc("tick", 17, dir)
				for _, s := range []*Service{nginx, worker, cron, tick} {
					s.Kind, s.Command, s.Restart.Policy = KindExternal, nil, RestartOnFailure
				}
				nginx.Pidfile, nginx.Start = "/run/nginx.pid", []string{"systemctl", "start", "nginx"}
				nginx.Stop.Command = []string{"systemctl", "stop", "nginx"}
				nginx.Ready = &Probe{TCP: ":80", Interval: time.Second, Timeout: time.Second, Deadline: time.Minute}
				nginx.DependsOn = []Dependency{{Name: "cron", Condition: CondStarted}}
				worker.Start, worker.Env = []string{"./worker", "--port", "2"}, []string{"PORT=2"}
				cron.Unit = "cron.service"
				tick.Unit, tick.Autostart = "tick@1.timer", false
				return []*Service{nginx, worker, cron, tick}
			},
		},
	}
	matches := map[string]string{"worker": "^worker: master( |$)"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dir, err := parseIn(t, tt.src, tt.env, map[string]string{"w.env": "PORT=2\n"})
			if err != nil {
				t.Fatalf("unexpected error:\n%v", err)
			}
			want := tt.want(dir)
			if len(c.Services) != len(want) {
				t.Fatalf("got %d services, want %d: %+v", len(c.Services), len(want), c.Services)
			}
			for i, w := range want {
				got := *c.Services[i]
				if re, ok := matches[got.Name]; ok && (got.Match == nil || got.Match.String() != re) {
					t.Errorf("%s: Match = %v, want %q", got.Name, got.Match, re)
				}
				got.Match = nil
				got.At = KeyPositions{} // positions: TestKeyPositions
				if !reflect.DeepEqual(&got, w) {
					t.Errorf("service %d:\n got %+v\nwant %+v", i, got, *w)
				}
			}
		})
	}
}

func TestParseKindsAndGroupsInvalid(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "user and group",
			src: `version: 1
services:
  a: {command: a, user: ":web"}
  b: {command: b, user: "app:"}
  c: {command: c, user: "a:b:c"}
  d: {command: d, user: "my app"}
  e: {command: e, group: "web servers"}
  f: {command: f, group: a..b}
  g: {command: g, group: [web]}
  h: {command: h, group: ` + strings.Repeat("g", 65) + `}
`,
			want: []string{
				`r.yaml:3:25: services.a.user: ":web" needs a user before the colon (USER:GROUP)`,
				`r.yaml:4:25: services.b.user: "app:" needs a group after the colon (USER:GROUP)`,
				`r.yaml:5:25: services.c.user: expected USER or USER:GROUP, got "a:b:c"`,
				`r.yaml:6:25: services.d.user: "my app" contains a space; user and group names have none`,
				`r.yaml:7:26: services.e.group: invalid group name "web servers" (use letters, digits, '_', '.' and '-', starting with a letter or digit)`,
				`r.yaml:8:26: services.f.group: group name "a..b" must not contain ".."`,
				`r.yaml:9:26: services.g.group: expected a string, got a list`,
				`r.yaml:10:26: services.h.group: group name "ggggggggggggggggggggggggggggggggggggggggggggggggggggggggg..." is longer than 64 characters`,
			},
		},
		{
			name: "forking",
			src: `version: 1
services:
  a: {kind: forking, command: a}
  b: {kind: forking, command: b, pidfile: b.pid, match: b, unit: b}
  c: {kind: forking, command: c, pidfile: c.pid, start: c, replicas: 2}
  d: {kind: forking, pidfile: "${EMPTY}"}
  e: {kind: forking, command: e, pidfile: ""}
`,
			want: []string{
				`r.yaml:3:3: services.a: kind forking needs pidfile, the file its daemon writes its pid to`,
				`r.yaml:4:57: services.b.match: match needs kind: external (a forking service is found by its pidfile)`,
				`r.yaml:4:66: services.b.unit: unit needs kind: external (a forking service is found by its pidfile)`,
				`r.yaml:5:57: services.c.start: start needs kind: external (a forking service is started by command)`,
				`r.yaml:5:70: services.c.replicas: kind forking watches one process; replicas must be 1`,
				`r.yaml:6:3: services.d: missing required key "command"`,
				`r.yaml:6:31: services.d.pidfile: empty once variables are expanded`,
				`r.yaml:7:43: services.e.pidfile: must not be empty`,
			},
		},
		{
			name: "external",
			src: `version: 1
services:
  a: {kind: external}
  b: {kind: external, pidfile: b.pid, match: b, unit: b}
  c: {kind: external, command: c, unit: c, replicas: 3}
  d: {kind: external, match: "(", start: []}
  e: {kind: external, match: "", start: "'x"}
  f: {kind: external, unit: "a/b"}
  g: {kind: external, unit: .service}
  h: {kind: external, pidfile: h.pid, ready: {log: up}}
`,
			want: []string{
				`r.yaml:3:3: services.a: kind external needs one of pidfile, match, unit to find its process`,
				`r.yaml:4:46: services.b: takes exactly one of pidfile, match, unit; got pidfile and match and unit`,
				"r.yaml:5:32: services.c.command: an external service is started by `start`, not `command`",
				`r.yaml:5:54: services.c.replicas: kind external watches one process; replicas must be 1`,
				"r.yaml:6:30: services.d.match: invalid regular expression: error parsing regexp: missing closing ): `(`",
				`r.yaml:6:42: services.d.start: must not be empty`,
				`r.yaml:7:30: services.e.match: must not be empty (it would match every process)`,
				`r.yaml:7:41: services.e.start: invalid command: unterminated single quote at byte 0 of "'x"`,
				`r.yaml:8:29: services.f.unit: invalid unit name "a/b.service" (systemd allows letters, digits, ':', '_', '.', '\', '@' and '-')`,
				`r.yaml:9:29: services.g.unit: invalid unit name ".service" (systemd allows letters, digits, ':', '_', '.', '\', '@' and '-')`,
				`r.yaml:10:52: services.h.ready.log: respawn does not see an external service's output; use another probe`,
			},
		},
		{
			name: "per-service keys in defaults, and stop",
			src: `version: 1
defaults:
  kind: external
  pidfile: x.pid
  match: x
  unit: x
  start: x
  stop: {command: x}
services:
  a: {command: a, match: a}
  b: {unit: b, stop: {signal: INT, command: [stop]}}
  c: {kind: process, command: c, stop: {command: "'"}}
`,
			want: []string{
				`r.yaml:4:12: defaults.pidfile: pidfile cannot be set in defaults; it names one service's process`,
				`r.yaml:5:10: defaults.match: match cannot be set in defaults; it names one service's process`,
				`r.yaml:6:9: defaults.unit: unit cannot be set in defaults; it names one service's process`,
				`r.yaml:7:10: defaults.start: start cannot be set in defaults; give each external service its own`,
				`r.yaml:8:19: defaults.stop.command: stop.command cannot be set in defaults; set it per service`,
				"r.yaml:10:16: services.a.command: an external service is started by `start`, not `command`",
				`r.yaml:11:45: services.b.stop: takes signal or command, not both: a stop command replaces the signal`,
				`r.yaml:12:50: services.c.stop.command: invalid command: unterminated single quote at byte 0 of "'"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dir, err := parseIn(t, tt.src, nil, nil)
			if err == nil {
				t.Fatalf("no error; services %+v", c.Services)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, not an ErrorList: %v", err, err)
			}
			if got := errorLines(err, dir); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
