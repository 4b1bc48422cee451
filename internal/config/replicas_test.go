package config

import (
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

func TestReplicasExpand(t *testing.T) {
	src := `version: 1
defaults:
  env: {SHARD: "s${RESPAWN_INSTANCE}"}
services:
  db: {command: db}
  web:
    command: ./web --port 80${RESPAWN_INSTANCE}
    cwd: data/${RESPAWN_INSTANCE}
    env: {ID: "web-${RESPAWN_INSTANCE}", RESPAWN_INSTANCE: nine}
    depends_on: {db: {condition: ready, restart: true}}
    replicas: 3
  one:
    command: [echo, "${RESPAWN_INSTANCE}"]
    replicas: 1
  api:
    command: api
    depends_on: {web: ready}
  pick: {command: pick, depends_on: [web.2]}
`
	c, dir, err := parseIn(t, src, map[string]string{"RESPAWN_INSTANCE": "outer"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range c.Services {
		names = append(names, s.Name)
	}
	if want := []string{"db", "web.1", "web.2", "web.3", "one", "api", "pick"}; !slices.Equal(names, want) {
		t.Fatalf("services = %q, want %q", names, want)
	}
	for i := 1; i <= 3; i++ {
		s := c.Services[i]
		n := string(rune('0' + i))
		want := svc("web."+n, 6, filepath.Join(dir, "data", n), "./web", "--port", "80"+n)
		want.Env = []string{"ID=web-" + n, "RESPAWN_INSTANCE=" + n, "SHARD=s" + n}
		want.DependsOn = []Dependency{{Name: "db", Condition: CondReady, Restart: true}}
		want.ReplicaOf, want.Instance = "web", i
		want.At = KeyPositions{Command: Pos{7, 14}, Cwd: Pos{8, 10}} // every instance points at the one definition
		if !reflect.DeepEqual(s, want) {
			t.Errorf("instance %d:\n got %+v\nwant %+v", i, s, want)
		}
	}
	if &c.Services[1].DependsOn[0] == &c.Services[2].DependsOn[0] {
		t.Error("instances share their DependsOn")
	}
	one := c.Service("one")
	if want := []string{"echo", "1"}; !slices.Equal(one.Command, want) || one.ReplicaOf != "" || one.Instance != 0 ||
		!slices.Equal(one.Env, []string{"RESPAWN_INSTANCE=1", "SHARD=s1"}) {
		t.Errorf("replicas: 1 gave %q %q ReplicaOf=%q Instance=%d", one.Command, one.Env, one.ReplicaOf, one.Instance)
	}
	if db := c.Service("db"); !slices.Equal(db.Env, []string{"SHARD=souter"}) {
		t.Errorf("db without replicas: Env = %q, want RESPAWN_INSTANCE from the environment only", db.Env)
	}
	wantAPI := []Dependency{{Name: "web.1", Condition: CondReady}, {Name: "web.2", Condition: CondReady}, {Name: "web.3", Condition: CondReady}}
	if got := c.Service("api").DependsOn; !reflect.DeepEqual(got, wantAPI) {
		t.Errorf("api depends on %+v, want %+v", got, wantAPI)
	}
	if got := c.Service("pick").DependsOn; !reflect.DeepEqual(got, []Dependency{{Name: "web.2", Condition: CondStarted}}) {
		t.Errorf("pick depends on %+v", got)
	}
	if got, want := c.Order(), []string{"db", "web.1", "web.2", "web.3", "one", "api", "pick"}; !slices.Equal(got, want) {
		t.Errorf("Order() = %q, want %q", got, want)
	}
	if got, want := c.Dependents("web.2"), []string{"api", "pick"}; !slices.Equal(got, want) {
		t.Errorf("Dependents(web.2) = %q, want %q", got, want)
	}
	if got, want := c.Dependents("db"), []string{"web.1", "web.2", "web.3"}; !slices.Equal(got, want) {
		t.Errorf("Dependents(db) = %q, want %q", got, want)
	}
	checkOrder(t, c)
}

func TestReplicasOrderFollowsDependencies(t *testing.T) {
	src := `version: 1
services:
  api: {command: api, depends_on: [worker]}
  worker: {command: w, replicas: 2}
`
	c, _, err := parseIn(t, src, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Order(), []string{"worker.1", "worker.2", "api"}; !slices.Equal(got, want) {
		t.Fatalf("Order() = %q, want %q", got, want)
	}
}

func TestSchedule(t *testing.T) {
	src := `version: 1
defaults: {autostart: true}
services:
  nightly: {kind: oneshot, command: ./cleanup, schedule: "0 3 * * *"}
  tick: {kind: oneshot, command: ./tick, schedule: "@every ${TICK:-1s}", autostart: true}
  plain: {kind: oneshot, command: ./once}
`
	c, _, err := parseIn(t, src, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, tick, plain := c.Service("nightly"), c.Service("tick"), c.Service("plain")
	if n.Schedule.String() != "0 3 * * *" || n.Autostart {
		t.Errorf("nightly: schedule %q autostart %v, want 0 3 * * * and false", n.Schedule, n.Autostart)
	}
	if tick.Schedule.String() != "@every 1s" || !tick.Autostart {
		t.Errorf("tick: schedule %q autostart %v, want @every 1s and true", tick.Schedule, tick.Autostart)
	}
	if plain.Schedule != nil || !plain.Autostart {
		t.Errorf("plain: schedule %v autostart %v", plain.Schedule, plain.Autostart)
	}
}

func TestScheduleAndReplicasErrors(t *testing.T) {
	long := "a234567890123456789012345678901234567890123456789012345678901"
	tests := []struct {
		name, src string
		want      []string
	}{
		{
			name: "not allowed in defaults",
			src:  "version: 1\ndefaults: {schedule: '@daily', replicas: 2}\nservices: {a: {command: a}}\n",
			want: []string{
				`r.yaml:2:22: defaults.schedule: schedule cannot be set in defaults; set it per service`,
				`r.yaml:2:42: defaults.replicas: replicas cannot be set in defaults; set it per service`,
			},
		},
		{
			name: "schedule needs a oneshot",
			src: `version: 1
services:
  a: {command: a, schedule: "@daily"}
  b: {command: b, kind: process, schedule: "@daily"}
  c: {command: c, kind: bogus, schedule: "@daily"}
`,
			want: []string{
				`r.yaml:3:29: services.a.schedule: schedule needs kind: oneshot`,
				`r.yaml:4:44: services.b.schedule: schedule needs kind: oneshot`,
				`r.yaml:5:25: services.c.kind: "bogus" is not one of process, oneshot, forking, external`,
			},
		},
		{
			name: "bad schedules",
			src: `version: 1
services:
  a: {kind: oneshot, command: a, schedule: "0 0 30 2 *"}
  b: {kind: oneshot, command: b, schedule: "61 * * * *"}
  c: {kind: oneshot, command: c, schedule: [1]}
  d: {kind: oneshot, command: d, schedule: "@every 1ms"}
`,
			want: []string{
				`r.yaml:3:44: services.a.schedule: invalid schedule: "0 0 30 2 *" never fires: no month it names has any of the days it names`,
				`r.yaml:4:44: services.b.schedule: invalid schedule: minute "61": 61 is out of range (0 to 59)`,
				`r.yaml:5:44: services.c.schedule: expected a schedule, got a list`,
				`r.yaml:6:44: services.d.schedule: invalid schedule: @every 1ms is less than 1s`,
			},
		},
		{
			name: "bad replicas",
			src: `version: 1
services:
  a: {command: a, replicas: 0}
  b: {command: b, replicas: 1001}
  c: {command: c, replicas: two}
  ` + long + `: {command: d, replicas: 100}
  e.: {command: e, replicas: 2}
  f: {command: f, replicas: 2, env: {X: "${RESPAWN_INSTANCE"}}
`,
			want: []string{
				`r.yaml:3:29: services.a.replicas: 0 is out of range (1 to 1000)`,
				`r.yaml:4:29: services.b.replicas: 1001 is out of range (1 to 1000)`,
				`r.yaml:5:29: services.c.replicas: expected an integer, got "two"`,
				`r.yaml:6:89: services.` + long + `.replicas: instance name "` + long + `.100" would be longer than 64 characters`,
				`r.yaml:7:30: services.e..replicas: instance name "e..1" would contain ".."`,
				`r.yaml:8:41: services.f.env.X: malformed ${...} reference in "${RESPAWN_INSTANCE": missing closing "}"`,
			},
		},
		{
			name: "instance names collide with services",
			src: `version: 1
services:
  web.2: {command: x}
  web: {command: w, replicas: 3}
  web.3: {command: y, replicas: 2}
  web.3.1: {command: z}
`,
			want: []string{
				`r.yaml:3:3: services: service name "web.2" is also the name of an instance of web (replicas: 3 at line 4)`,
				`r.yaml:5:3: services: service name "web.3" is also the name of an instance of web (replicas: 3 at line 4)`,
				`r.yaml:6:3: services: service name "web.3.1" is also the name of an instance of web.3 (replicas: 2 at line 5)`,
			},
		},
		{
			name: "dependencies on instances",
			src: `version: 1
services:
  web: {command: w, replicas: 2, depends_on: [web.1]}
  api: {command: a, depends_on: [web.3]}
  job: {command: j, depends_on: {web.2: completed}}
  q: {command: q, replicas: 2, depends_on: [r.1]}
  r: {command: r, replicas: 2, depends_on: [q]}
`,
			want: []string{
				`r.yaml:3:47: services.web.depends_on: web cannot depend on itself`,
				`r.yaml:4:34: services.api.depends_on: unknown service "web.3" (did you mean "web"?)`,
				`r.yaml:5:41: services.job.depends_on.web.2: completed needs a oneshot: web.2 is a process`,
				`r.yaml:7:45: services.r.depends_on.q: dependency cycle: r → q → r`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, dir, err := parseIn(t, tt.src, nil, nil)
			if got := errorLines(err, dir); !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", joinLines(got), joinLines(tt.want))
			}
		})
	}
}

func joinLines(l []string) string {
	out := ""
	for _, s := range l {
		out += s + "\n"
	}
	return out
}
