package config

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		env   map[string]string
		files map[string]string
		want  func(dir string) []*Service
	}{
		{
			name: "minimal string command takes every default",
			src: `version: 1
services:
  web:
    command: ./api --port 8080
`,
			want: func(dir string) []*Service {
				return []*Service{svc("web", 3, dir, "./api", "--port", "8080")}
			},
		},
		{
			name: "list command keeps items whole",
			src: `version: 1
services:
  web:
    command: ["sh", "-c", "echo $HOME | tr a b", ""]
`,
			want: func(dir string) []*Service {
				return []*Service{svc("web", 3, dir, "sh", "-c", "echo $HOME | tr a b", "")}
			},
		},
		{
			name: "string command quoting and literal operators",
			src: `version: 1
services:
  web:
    command: sh -c 'echo "$HOME" > out; ls | wc' "a b" c\ d
`,
			want: func(dir string) []*Service {
				return []*Service{svc("web", 3, dir, "sh", "-c", `echo "$HOME" > out; ls | wc`, "a b", "c d")}
			},
		},
		{
			name: "oneshot restarts on failure by default",
			src: `version: 1
services:
  migrate:
    kind: oneshot
    command: [./migrate, up]
`,
			want: func(dir string) []*Service {
				s := svc("migrate", 3, dir, "./migrate", "up")
				s.Kind = KindOneshot
				s.Restart.Policy = RestartOnFailure
				return []*Service{s}
			},
		},
		{
			name: "every service key",
			src: `version: 1
services:
  api:
    kind: process
    command: [/bin/api]
    cwd: sub/dir
    env: {B: two, A: 1, C: true, D: ~}
    user: "1000:staff"
    group: web
    umask: "0027"
    rlimits:
      nofile: 4096
      core: unlimited
      nproc: {soft: 100, hard: infinity}
    autostart: false
    restart:
      policy: on-failure
      success_codes: [0, 3, 255]
      backoff: {initial: 1s, max: 1m, factor: 1.5, jitter: 0}
      limit: {burst: 0, window: 0}
      reset_after: 1h30m
      cooldown: 0
    stop: {signal: SIGINT, timeout: 2500ms}
    logs: {max_size: 512KiB, max_files: 1}
`,
			want: func(dir string) []*Service {
				s := svc("api", 3, dir, "/bin/api")
				s.Cwd = filepath.Join(dir, "sub", "dir")
				s.Env = []string{"A=1", "B=two", "C=true", "D="}
				s.User, s.Group, s.ServiceGroup = "1000", "staff", "web"
				s.Umask = umask(0o027)
				s.Rlimits = map[string]Rlimit{
					"nofile": {Soft: 4096, Hard: 4096},
					"core":   {Soft: Unlimited, Hard: Unlimited},
					"nproc":  {Soft: 100, Hard: Unlimited},
				}
				s.Autostart = false
				s.Restart = Restart{
					Policy:       RestartOnFailure,
					SuccessCodes: []int{0, 3, 255},
					Backoff:      Backoff{Initial: time.Second, Max: time.Minute, Factor: 1.5, Jitter: 0},
					Limit:        Limit{Burst: 0, Window: 0},
					ResetAfter:   90 * time.Minute,
					Cooldown:     0,
					Strategy:     StopFirst,

					MaxUnavailable: 1,
				}
				s.Stop = Stop{Signal: "INT", Timeout: 2500 * time.Millisecond}
				s.Logs = Logs{MaxSize: 512 * 1024, MaxFiles: 1}
				return []*Service{s}
			},
		},
		{
			name: "a policy from defaults does not reach oneshots",
			src: `version: 1
defaults: {restart: {policy: always, cooldown: 1m}}
services:
  web: {command: web}
  migrate: {kind: oneshot, command: migrate}
  job: {kind: oneshot, command: job, restart: {policy: never}}
`,
			want: func(dir string) []*Service {
				web := svc("web", 4, dir, "web")
				web.Restart.Cooldown = time.Minute
				migrate := svc("migrate", 5, dir, "migrate")
				migrate.Kind, migrate.Restart.Policy, migrate.Restart.Cooldown = KindOneshot, RestartOnFailure, time.Minute
				job := svc("job", 6, dir, "job")
				job.Kind, job.Restart.Policy, job.Restart.Cooldown = KindOneshot, RestartNever, time.Minute
				return []*Service{web, migrate, job}
			},
		},
		{
			name: "absolute cwd is kept",
			src: `version: 1
services:
  a: {command: x, cwd: /srv/../srv/a}
`,
			want: func(dir string) []*Service {
				s := svc("a", 3, dir, "x")
				s.Cwd = "/srv/a"
				return []*Service{s}
			},
		},
		{
			name: "defaults merge key by key and the service wins",
			src: `version: 1
defaults:
  kind: oneshot
  env: {SHARED: d, OVER: d}
  rlimits: {nofile: 10, core: 0}
  restart:
    backoff: {initial: 2s, factor: 3}
    limit: {burst: 4}
  stop: {timeout: 1s}
  logs: {max_files: 2}
  autostart: false
services:
  a:
    command: a
    env: {OVER: s, OWN: s}
    rlimits: {core: 5}
    restart:
      backoff: {max: 1m}
      limit: {window: 1m}
    stop: {signal: KILL}
    autostart: true
  b:
    kind: process
    command: b
`,
			want: func(dir string) []*Service {
				a := svc("a", 13, dir, "a")
				a.Kind = KindOneshot
				a.Restart.Policy = RestartOnFailure
				a.Env = []string{"OVER=s", "OWN=s", "SHARED=d"}
				a.Rlimits = map[string]Rlimit{"nofile": {10, 10}, "core": {5, 5}}
				a.Restart.Backoff = Backoff{Initial: 2 * time.Second, Max: time.Minute, Factor: 3, Jitter: 0.1}
				a.Restart.Limit = Limit{Burst: 4, Window: time.Minute}
				a.Stop = Stop{Signal: "KILL", Timeout: time.Second}
				a.Logs.MaxFiles = 2
				b := svc("b", 22, dir, "b")
				b.Env = []string{"OVER=d", "SHARED=d"}
				b.Rlimits = map[string]Rlimit{"nofile": {10, 10}, "core": {0, 0}}
				b.Restart.Backoff = Backoff{Initial: 2 * time.Second, Max: 30 * time.Second, Factor: 3, Jitter: 0.1}
				b.Restart.Limit.Burst = 4
				b.Stop.Timeout = time.Second
				b.Logs.MaxFiles = 2
				b.Autostart = false
				return []*Service{a, b}
			},
		},
		{
			name: "anchors, aliases and merge keys",
			src: `version: 1
x-common: &common
  restart: &restart {policy: never, cooldown: 1m}
  env: {FROM: common}
x-more: &more
  env: {FROM: more}
  stop: {signal: HUP}
x-argv: &argv [/bin/tool, --flag]
services:
  a:
    <<: *common
    command: *argv
  b:
    <<: [*more, *common]
    command: b
    restart: *restart
  c:
    <<: *common
    env: {FROM: c}
    command: c
`,
			want: func(dir string) []*Service {
				a := svc("a", 10, dir, "/bin/tool", "--flag")
				a.Restart.Policy, a.Restart.Cooldown = RestartNever, time.Minute
				a.Env = []string{"FROM=common"}
				b := svc("b", 13, dir, "b")
				b.Restart.Policy, b.Restart.Cooldown = RestartNever, time.Minute
				b.Env = []string{"FROM=more"}
				b.Stop.Signal = "HUP"
				c := svc("c", 17, dir, "c")
				c.Restart.Policy, c.Restart.Cooldown = RestartNever, time.Minute
				c.Env = []string{"FROM=c"}
				return []*Service{a, b, c}
			},
		},
		{
			name: "services merged in from an anchor keep their place",
			src: `version: 1
x-extra: &extra
  y: {command: y}
services:
  x: {command: x}
  <<: *extra
  z: {command: z}
`,
			want: func(dir string) []*Service {
				return []*Service{svc("x", 5, dir, "x"), svc("y", 3, dir, "y"), svc("z", 7, dir, "z")}
			},
		},
		{
			name: "variable expansion",
			env:  map[string]string{"PORT": "9000", "EMPTY": "", "SIG": "USR1", "T": "3s", "WORDS": "-a -b"},
			src: `version: 1
services:
  web:
    command: ./api --port ${PORT:-8080} --host ${HOST:-localhost} --e=${EMPTY:-dflt} --u=${EMPTY-dflt} --x=${UNSET} $WORDS ${WORDS} $$HOME cost$ 5
    env:
      NESTED: ${UNSET:-${PORT}-${UNSET:-z}}
      DOLLAR: a$$b$c
    stop: {signal: "${SIG}", timeout: "${T}"}
    cwd: ${UNSET:-srv}
`,
			want: func(dir string) []*Service {
				s := svc("web", 3, dir, "./api", "--port", "9000", "--host", "localhost", "--e=dflt", "--u=", "--x=",
					"$WORDS", "-a", "-b", "$HOME", "cost$", "5")
				s.Env = []string{"DOLLAR=a$b$c", "NESTED=9000-z"}
				s.Stop = Stop{Signal: "USR1", Timeout: 3 * time.Second}
				s.Cwd = filepath.Join(dir, "srv")
				return []*Service{s}
			},
		},
		{
			name: "env_file variables feed env and command, not other keys",
			env:  map[string]string{"PORT": "1", "DIR": "fromenv", "HOME": "/home/u"},
			files: map[string]string{
				".env":     "# comment\n\nPORT=2\nexport DIR=fromfile\nQUOTED=\"a b\"\nSINGLE='c d'\nEQ=x=y\nSPACED = v \r\n",
				"more.env": "PORT=3\nONLY=more\n",
			},
			src: `version: 1
services:
  a:
    env_file: .env
    command: run ${PORT} ${QUOTED}
    env: {P: "${PORT}", H: "${HOME}", SINGLE: overridden}
    cwd: ${DIR}
  b:
    env_file: [.env, more.env]
    command: [run, "${PORT}"]
`,
			want: func(dir string) []*Service {
				a := svc("a", 3, dir, "run", "2", "a", "b")
				a.Env = []string{"DIR=fromfile", "EQ=x=y", "H=/home/u", "P=2", "PORT=2", "QUOTED=a b", "SINGLE=overridden", "SPACED=v"}
				a.Cwd = filepath.Join(dir, "fromenv")
				b := svc("b", 8, dir, "run", "3")
				b.Env = []string{"DIR=fromfile", "EQ=x=y", "ONLY=more", "PORT=3", "QUOTED=a b", "SINGLE=c d", "SPACED=v"}
				return []*Service{a, b}
			},
		},
		{
			name:  "env_file from defaults",
			files: map[string]string{"conf/d.env": "X=1\n"},
			src: `version: 1
defaults: {env_file: conf/d.env}
services:
  a: {command: "echo ${X}"}
`,
			want: func(dir string) []*Service {
				a := svc("a", 4, dir, "echo", "1")
				a.Env = []string{"X=1"}
				return []*Service{a}
			},
		},
		{
			name: "umask spellings are all octal",
			src: `version: 1
services:
  a: {command: a, umask: 022}
  b: {command: b, umask: "0022"}
  c: {command: c, umask: 0o027}
  d: {command: d, umask: 77}
  e: {command: e, umask: 0}
`,
			want: func(dir string) []*Service {
				var out []*Service
				for i, m := range []uint32{0o22, 0o22, 0o27, 0o77, 0} {
					name := string(rune('a' + i))
					s := svc(name, 3+i, dir, name)
					s.Umask = umask(m)
					out = append(out, s)
				}
				return out
			},
		},
		{
			name: "signal spellings",
			src: `version: 1
services:
  a: {command: a, stop: {signal: term}}
  b: {command: b, stop: {signal: SIGHUP}}
  c: {command: c, stop: {signal: 9}}
  d: {command: d, stop: {signal: Quit}}
`,
			want: func(dir string) []*Service {
				var out []*Service
				for i, sig := range []string{"TERM", "HUP", "KILL", "QUIT"} {
					name := string(rune('a' + i))
					s := svc(name, 3+i, dir, name)
					s.Stop.Signal = sig
					out = append(out, s)
				}
				return out
			},
		},
		{
			name: "quoted numbers, bare sizes and null values",
			src: `version: "1"
defaults:
  restart:
services:
  a:
    command: a
    logs: {max_size: 100, max_files: "3"}
    restart: {limit: {burst: "2"}, backoff: {factor: "2.5"}}
    stop:
    env_file:
`,
			want: func(dir string) []*Service {
				s := svc("a", 5, dir, "a")
				s.Logs = Logs{MaxSize: 100, MaxFiles: 3}
				s.Restart.Limit.Burst = 2
				s.Restart.Backoff.Factor = 2.5
				return []*Service{s}
			},
		},
		{
			name: "no services",
			src:  "version: 1\nservices: {}\n",
			want: func(string) []*Service { return nil },
		},
		{
			name: "null services",
			src:  "version: 1\nservices:\n",
			want: func(string) []*Service { return nil },
		},
		{
			name: "service names",
			src: `version: 1
services:
  A.b-c_1: {command: a}
  0x: {command: b}
  all-of-it: {command: c}
  ` + fmt.Sprintf("%064d", 7) + `: {command: d}
`,
			want: func(dir string) []*Service {
				return []*Service{svc("A.b-c_1", 3, dir, "a"), svc("0x", 4, dir, "b"), svc("all-of-it", 5, dir, "c"),
					svc(fmt.Sprintf("%064d", 7), 6, dir, "d")}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dir, err := parseIn(t, tt.src, tt.env, tt.files)
			if err != nil {
				t.Fatalf("unexpected error:\n%v", err)
			}
			want := tt.want(dir)
			if len(c.Services) != len(want) {
				t.Fatalf("got %d services, want %d: %+v", len(c.Services), len(want), c.Services)
			}
			for i := range want {
				got := *c.Services[i]
				got.At = KeyPositions{} // positions: TestKeyPositions
				if !reflect.DeepEqual(&got, want[i]) {
					t.Errorf("service %d:\n got %+v\nwant %+v", i, got, *want[i])
				}
			}
		})
	}
}

func TestParseTopLevel(t *testing.T) {
	c, dir, err := parseIn(t, `version: 1
supervisor:
  state_dir: ${RUN:-run}/state
  log: {level: debug, format: json, max_size: 1MB, max_files: 2}
  core_timeout: 3s
x-anything: {not: checked}
services:
  b: {command: b}
  a: {command: a}
`, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != filepath.Join(dir, "r.yaml") || c.Dir != dir || c.Version != 1 {
		t.Errorf("Path %q Dir %q Version %d", c.Path, c.Dir, c.Version)
	}
	want := Supervisor{StateDir: filepath.Join(dir, "run", "state"), Log: LogSettings{Level: "debug", Format: "json", MaxSize: 1_000_000, MaxFiles: 2}, CoreTimeout: 3 * time.Second, Containment: "auto", Platform: "auto"}
	if c.Supervisor != want {
		t.Errorf("Supervisor = %+v, want %+v", c.Supervisor, want)
	}
	if got := c.Order(); !reflect.DeepEqual(got, []string{"b", "a"}) {
		t.Errorf("Order() = %q, want file order [b a]", got)
	}
	if c.Service("a") == nil || c.Service("a").Name != "a" || c.Service("nope") != nil {
		t.Error("Service lookup by name is wrong")
	}
}

func TestDefaultStateDirIsPerConfig(t *testing.T) {
	for path, want := range map[string]string{
		"/srv/app/respawn.yaml": "/srv/app/.respawn",
		"/srv/app/respawn.yml":  "/srv/app/.respawn",
		"/srv/app/a.yaml":       "/srv/app/.respawn-a",
		"/srv/app/b.yaml":       "/srv/app/.respawn-b",
		"/srv/app/web.prod.yml": "/srv/app/.respawn-web.prod",
		"/srv/app/noext":        "/srv/app/.respawn-noext",
	} {
		if got := DefaultStateDir(path); got != want {
			t.Errorf("DefaultStateDir(%s) = %s, want %s", path, got, want)
		}
	}
	for _, name := range []string{"respawn.yaml", "other.yaml"} {
		dir := t.TempDir()
		c, err := Parse(filepath.Join(dir, name), []byte("version: 1\nservices: {}\n"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := DefaultStateDir(filepath.Join(dir, name)); c.Supervisor.StateDir != want {
			t.Errorf("%s: state dir %s, want %s", name, c.Supervisor.StateDir, want)
		}
		c, err = Parse(filepath.Join(dir, name), []byte("version: 1\nsupervisor: {state_dir: st}\nservices: {}\n"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(dir, "st"); c.Supervisor.StateDir != want {
			t.Errorf("%s: explicit state dir %s, want %s", name, c.Supervisor.StateDir, want)
		}
	}
}

func TestParseSupervisorDefaults(t *testing.T) {
	c, dir, err := parseIn(t, "version: 1\nservices: {}\n", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Supervisor{StateDir: filepath.Join(dir, ".respawn-r"), Log: LogSettings{Level: "info", Format: "text", MaxSize: 10_000_000, MaxFiles: 5}, CoreTimeout: 30 * time.Second, Containment: "auto", Platform: "auto"}
	if c.Supervisor != want {
		t.Errorf("Supervisor = %+v, want %+v", c.Supervisor, want)
	}
	if len(c.Order()) != 0 {
		t.Errorf("Order() = %q, want none", c.Order())
	}
}

func TestParseAbsoluteStateDir(t *testing.T) {
	c, _, err := parseIn(t, "version: 1\nsupervisor: {state_dir: /var/lib/respawn/}\nservices: {}\n", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Supervisor.StateDir != "/var/lib/respawn" {
		t.Errorf("StateDir = %q", c.Supervisor.StateDir)
	}
}

// A nil lookup is an empty environment, not a crash.
func TestParseNilLookup(t *testing.T) {
	c, err := Parse("r.yaml", []byte("version: 1\nservices: {a: {command: \"x ${HOME:-none}\"}}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Services[0].Command; !reflect.DeepEqual(got, []string{"x", "none"}) {
		t.Errorf("Command = %q", got)
	}
}

// Where the keys Lint checks were written: the service's own, else the
// defaults'; an external's program is its start.
func TestKeyPositions(t *testing.T) {
	src := `version: 1
defaults:
  user: www
services:
  a:
    command: ./a
    cwd: /tmp
  b:
    user: app
    command: [./b]
  ext:
    kind: external
    match: ext
    start: ./ext
`
	c, _, err := parseIn(t, src, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]KeyPositions{
		"a":   {Command: Pos{6, 14}, Cwd: Pos{7, 10}, User: Pos{3, 9}},
		"b":   {Command: Pos{10, 14}, User: Pos{9, 11}},
		"ext": {Command: Pos{14, 12}, User: Pos{3, 9}},
	}
	for name, w := range want {
		if got := c.Service(name).At; got != w {
			t.Errorf("%s: positions %+v, want %+v", name, got, w)
		}
	}
}
