package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestDependsOnValid(t *testing.T) {
	tests := []struct {
		name string
		src  string
		env  map[string]string
		want map[string][]Dependency // service → DependsOn
	}{
		{
			name: "mapping of conditions",
			src: `version: 1
services:
  api: {command: api, depends_on: {db: ready, migrate: completed, cache: started}}
  db: {command: db}
  cache: {command: cache}
  migrate: {command: m, kind: oneshot}
`,
			want: map[string][]Dependency{
				"api": {{Name: "db", Condition: CondReady}, {Name: "migrate", Condition: CondCompleted}, {Name: "cache", Condition: CondStarted}},
				"db":  nil,
			},
		},
		{
			name: "long form, condition defaults to started, null means started",
			src: `version: 1
services:
  db: {command: db}
  cache: {command: cache}
  log: {command: log}
  mq: {command: mq}
  api:
    command: api
    depends_on:
      db: {condition: ready, restart: true}
      cache: {restart: true}
      log: {}
      mq:
`,
			want: map[string][]Dependency{"api": {
				{Name: "db", Condition: CondReady, Restart: true},
				{Name: "cache", Condition: CondStarted, Restart: true},
				{Name: "log", Condition: CondStarted},
				{Name: "mq", Condition: CondStarted},
			}},
		},
		{
			name: "list of names",
			src: `version: 1
services:
  api: {command: api, depends_on: [db, cache]}
  db: {command: db}
  cache: {command: cache}
`,
			want: map[string][]Dependency{"api": {{Name: "db", Condition: CondStarted}, {Name: "cache", Condition: CondStarted}}},
		},
		{
			name: "null and empty mean none",
			src: `version: 1
services:
  a: {command: a, depends_on: }
  b: {command: b, depends_on: []}
  c: {command: c, depends_on: {}}
  d: {command: d, depends_on: ~}
defaults: {depends_on: ~}
`,
			want: map[string][]Dependency{"a": nil, "b": nil, "c": nil, "d": nil},
		},
		{
			name: "merge keys, variables, restart false, kind from defaults",
			src: `version: 1
x-deps: &deps {db: {condition: "${COND:-ready}", restart: "${RESTART:-true}"}}
defaults: {kind: oneshot}
services:
  db: {command: db}
  api:
    command: api
    depends_on: {<<: *deps, job: {condition: completed, restart: false}}
  job: {command: job}
`,
			env: map[string]string{"RESTART": "false"},
			want: map[string][]Dependency{"api": {
				{Name: "db", Condition: CondReady},
				{Name: "job", Condition: CondCompleted},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dir, err := parseIn(t, tt.src, tt.env, nil)
			if err != nil {
				t.Fatalf("unexpected error:\n%s", strings.Join(errorLines(err, dir), "\n"))
			}
			for name, want := range tt.want {
				s := c.Service(name)
				if s == nil {
					t.Fatalf("no service %q", name)
				}
				if !reflect.DeepEqual(s.DependsOn, want) {
					t.Errorf("%s.DependsOn = %+v, want %+v", name, s.DependsOn, want)
				}
			}
		})
	}
}

func TestDependsOnInvalid(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "not in defaults",
			src: `version: 1
defaults:
  depends_on: [a]
services:
  a: {command: a}
`,
			want: []string{`r.yaml:3:15: defaults.depends_on: depends_on cannot be set in defaults; dependencies are per service`},
		},
		{
			name: "unknown names, with and without a hint",
			src: `version: 1
services:
  db: {command: db}
  cache: {command: cache}
  api: {command: api, depends_on: [dbb, queue]}
  web: {command: web, depends_on: {cahce: ready}}
`,
			want: []string{
				`r.yaml:5:36: services.api.depends_on: unknown service "dbb" (did you mean "db"?)`,
				`r.yaml:5:41: services.api.depends_on: unknown service "queue"`,
				`r.yaml:6:36: services.web.depends_on: unknown service "cahce" (did you mean "cache"?)`,
			},
		},
		{
			name: "the hint never names the service itself",
			src: `version: 1
services:
  api: {command: api, depends_on: [apx]}
`,
			want: []string{`r.yaml:3:36: services.api.depends_on: unknown service "apx"`},
		},
		{
			name: "self",
			src: `version: 1
services:
  a: {command: a, depends_on: [a]}
  b: {command: b, depends_on: {b: ready}}
`,
			want: []string{
				`r.yaml:3:32: services.a.depends_on: a cannot depend on itself`,
				`r.yaml:4:32: services.b.depends_on: b cannot depend on itself`,
			},
		},
		{
			name: "duplicates",
			src: `version: 1
services:
  db: {command: db}
  a: {command: a, depends_on: [db, db]}
  b:
    command: b
    depends_on:
      db: ready
      db: started
`,
			want: []string{
				`r.yaml:4:36: services.a.depends_on: "db" is listed twice (first at line 4)`,
				`r.yaml:9:7: services.b.depends_on: duplicate key "db" (first at line 8)`,
			},
		},
		{
			name: "conditions and long-form keys",
			src: `version: 1
services:
  db: {command: db}
  a:
    command: a
    depends_on:
      db: up
  b:
    command: b
    depends_on:
      db: {condition: healthy, restart: yes, condtion: ready, after: 1s}
`,
			want: []string{
				`r.yaml:7:11: services.a.depends_on.db: "up" is not one of started, ready, completed`,
				`r.yaml:11:23: services.b.depends_on.db.condition: "healthy" is not one of started, ready, completed`,
				`r.yaml:11:41: services.b.depends_on.db.restart: expected true or false, got "yes"`,
				`r.yaml:11:46: services.b.depends_on.db: unknown key "condtion" (did you mean "condition"?)`,
				`r.yaml:11:63: services.b.depends_on.db: unknown key "after"`,
			},
		},
		{
			name: "completed needs a oneshot",
			src: `version: 1
services:
  db: {command: db}
  job: {command: job, kind: oneshot}
  a: {command: a, depends_on: {db: completed, job: completed}}
  b: {command: b, depends_on: {db: {restart: true, condition: completed}}}
`,
			want: []string{
				`r.yaml:5:36: services.a.depends_on.db: completed needs a oneshot: db is a process`,
				`r.yaml:6:63: services.b.depends_on.db: completed needs a oneshot: db is a process`,
			},
		},
		{
			name: "wrong shapes",
			src: `version: 1
services:
  db: {command: db}
  a: {command: a, depends_on: db}
  b: {command: b, depends_on: [{db: ready}, ~, db]}
  c: {command: c, depends_on: {db: [ready]}}
  d: {command: d, depends_on: {db: {condition: [ready]}}}
`,
			want: []string{
				`r.yaml:4:31: services.a.depends_on: expected a mapping or a list of service names, got "db"`,
				`r.yaml:5:32: services.b.depends_on[0]: expected a service name, got a mapping`,
				`r.yaml:5:45: services.b.depends_on[1]: expected a service name, got null`,
				`r.yaml:6:36: services.c.depends_on.db: expected a condition or a mapping, got a list`,
				`r.yaml:7:48: services.d.depends_on.db.condition: expected one of started, ready, completed, got a list`,
			},
		},
		{
			name: "a dependency with mistakes of its own is not reported again",
			src: `version: 1
services:
  db: {kind: oneshot}
  job: {command: job, kind: batch}
  a: {command: a, depends_on: {db: completed, job: completed}}
`,
			want: []string{
				`r.yaml:3:3: services.db: missing required key "command"`,
				`r.yaml:4:29: services.job.kind: "batch" is not one of process, oneshot, forking, external`,
			},
		},
		{
			name: "a three-service cycle is reported once, at the entry that closes it",
			src: `version: 1
services:
  db: {command: db, depends_on: [cache]}
  cache: {command: cache, depends_on: [api]}
  api: {command: api, depends_on: {db: ready}}
`,
			want: []string{`r.yaml:5:36: services.api.depends_on.db: dependency cycle: api → db → cache → api`},
		},
		{
			name: "every cycle, including two through one service and a separate one",
			src: `version: 1
services:
  a: {command: a, depends_on: [b, c]}
  b: {command: b, depends_on: [a]}
  c: {command: c, depends_on: [a]}
  x: {command: x, depends_on: [y]}
  y: {command: y, depends_on: [x]}
  z: {command: z, depends_on: [a, x]}
`,
			want: []string{
				`r.yaml:4:32: services.b.depends_on.a: dependency cycle: b → a → b`,
				`r.yaml:5:32: services.c.depends_on.a: dependency cycle: c → a → c`,
				`r.yaml:7:32: services.y.depends_on.x: dependency cycle: y → x → y`,
			},
		},
		{
			name: "a cycle and an unknown key are both reported",
			src: `version: 1
services:
  a:
    command: a
    depends_on: [b]
    restat: {policy: never}
  b: {command: b, depends_on: [a]}
`,
			want: []string{
				`r.yaml:6:5: services.a: unknown key "restat" (did you mean "restart"?)`,
				`r.yaml:7:32: services.b.depends_on.a: dependency cycle: b → a → b`,
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

func TestOrder(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "independent services keep file order",
			src:  "version: 1\nservices: {c: {command: c}, a: {command: a}, b: {command: b}}\n",
			want: []string{"c", "a", "b"},
		},
		{
			name: "diamond",
			src: `version: 1
services:
  api: {command: api, depends_on: [left, right]}
  right: {command: r, depends_on: [db]}
  left: {command: l, depends_on: [db]}
  db: {command: db}
`,
			want: []string{"db", "right", "left", "api"},
		},
		{
			name: "a service that is ready goes before a later one's dependencies",
			src: `version: 1
services:
  x: {command: x, depends_on: [db]}
  y: {command: y}
  db: {command: db}
  z: {command: z}
`,
			want: []string{"y", "db", "x", "z"},
		},
		{
			name: "a chain written backwards",
			src: `version: 1
services:
  c: {command: c, depends_on: {b: ready}}
  b: {command: b, depends_on: {a: completed}}
  a: {command: a, kind: oneshot}
`,
			want: []string{"a", "b", "c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dir, err := parseIn(t, tt.src, nil, nil)
			if err != nil {
				t.Fatalf("unexpected error:\n%s", strings.Join(errorLines(err, dir), "\n"))
			}
			if got := c.Order(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Order() = %q, want %q", got, tt.want)
			}
		})
	}
}

// A Config built by hand may hold what Load refuses; Order still names
// every service once.
func TestOrderHandBuilt(t *testing.T) {
	c := &Config{Services: []*Service{
		{Name: "a", DependsOn: []Dependency{{Name: "b"}, {Name: "b"}}},
		{Name: "b", DependsOn: []Dependency{{Name: "a"}}},
		{Name: "c", DependsOn: []Dependency{{Name: "nope"}, {Name: "c"}}},
		{Name: "d", DependsOn: []Dependency{{Name: "c"}, {Name: "c"}}},
	}}
	if got, want := c.Order(), []string{"c", "d", "a", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Order() = %q, want %q", got, want)
	}
}

func TestDependents(t *testing.T) {
	c, dir, err := parseIn(t, `version: 1
services:
  api: {command: api, depends_on: {db: ready, cache: started}}
  db: {command: db}
  worker: {command: w, depends_on: [cache, db]}
  cache: {command: cache}
`, nil, nil)
	if err != nil {
		t.Fatalf("unexpected error:\n%s", strings.Join(errorLines(err, dir), "\n"))
	}
	for name, want := range map[string][]string{
		"db":     {"api", "worker"},
		"cache":  {"api", "worker"},
		"api":    nil,
		"nobody": nil,
	} {
		if got := c.Dependents(name); !reflect.DeepEqual(got, want) {
			t.Errorf("Dependents(%q) = %q, want %q", name, got, want)
		}
	}
}

// The depends_on example of the reference must load, in the order it implies.
func TestDependsOnReferenceExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "### `depends_on`")
	if !ok {
		t.Fatal("no depends_on section in docs/config.md")
	}
	_, rest, ok := strings.Cut(section, "```yaml\n")
	if !ok {
		t.Fatal("no yaml block in the depends_on section")
	}
	example, _, _ := strings.Cut(rest, "```")
	c, dir, err := parseIn(t, example, nil, nil)
	if err != nil {
		t.Fatalf("the example does not load:\n%s", strings.Join(errorLines(err, dir), "\n"))
	}
	if got, want := c.Order(), []string{"db", "cache", "migrate", "api", "worker"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Order() = %q, want %q", got, want)
	}
	want := []Dependency{{Name: "db", Condition: CondReady, Restart: true}, {Name: "migrate", Condition: CondCompleted}}
	if got := c.Service("api").DependsOn; !reflect.DeepEqual(got, want) {
		t.Errorf("api.DependsOn = %+v, want %+v", got, want)
	}
}
