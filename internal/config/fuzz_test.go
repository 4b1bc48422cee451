package config

import (
	"errors"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, and it
// must return either a config or an ErrorList with positioned entries.
func FuzzParse(f *testing.F) {
	f.Add([]byte("version: 1\nservices:\n  web: {command: ./api --port ${PORT:-8080}}\n"))
	f.Add([]byte("version: 1\nx: &a {<<: *a}\nservices: {a: {<<: *a, command: [a]}}\n"))
	f.Add([]byte("version: 1\ndefaults: {restart: {backoff: {initial: 1m}}}\nservices: {a: {command: \"'x\"}}\n"))
	f.Add([]byte("version: 1\nservices:\n  db: {command: db}\n  m: {command: m, kind: oneshot, depends_on: [db]}\n  api: {command: api, depends_on: {db: {condition: ready, restart: true}, m: completed}}\n"))
	f.Add([]byte("version: 1\nservices:\n  w: {command: ./w ${RESPAWN_INSTANCE}, cwd: d${RESPAWN_INSTANCE}, replicas: 3, env: {I: \"${RESPAWN_INSTANCE}\"}}\n  w.2x: {command: x, depends_on: {w: ready, w.1: started}}\n"))
	f.Add([]byte("version: 1\nservices:\n  n: {kind: oneshot, command: c, schedule: \"*/5 1-3,7 1,15 jan-mar/2 mon-fri\"}\n  e: {kind: oneshot, command: e, schedule: \"@every 1m\", replicas: 2}\n"))
	f.Add([]byte("version: 1\nservices:\n  n: {kind: oneshot, command: c, schedule: \"0 0 29 feb *\"}\n"))
	f.Add([]byte("version: 1\ndefaults: {ready: {timeout: 2s}, health: {interval: 1m, memory_max: 1GB}}\nservices:\n  db: {command: db, ready: {tcp: \"127.0.0.1:5432\"}, health: {exec: \"pg_isready -q\"}}\n  api: {command: api, replicas: 2, ready: {http: \"http://127.0.0.1:80${RESPAWN_INSTANCE}/\", deadline: 60s}, health: {http: \"https://x/h\", failures: 2}}\n"))
	f.Add([]byte("version: 1\nservices:\n  w: {command: w, ready: {log: \"listening on (\\\\d+\"}, health: {notify: true, watchdog: 5s}}\n  n: {command: n, ready: {notify: true, tcp: \":x y\"}, health: {log: a, deadline: 1s}}\n  m: {kind: oneshot, command: m, ready: {exec: [\"${E}\"]}, health: {memory_max: 1.5KiB}}\n"))
	f.Add([]byte("version: 1\ndefaults: {user: \"www:www\", group: web}\nservices:\n  d: {kind: forking, command: ./d, pidfile: run/d.pid, user: app, group: \"\", stop: {command: ./d stop}}\n  n: {kind: external, pidfile: /run/n.pid, start: [systemctl, start, n], ready: {tcp: \":80\"}, depends_on: [d]}\n"))
	f.Add([]byte("version: 1\nservices:\n  m: {kind: external, match: \"^w: master( |$)\", start: ./w ${UNSET}}\n  u: {kind: external, unit: cron}\n  x: {kind: external, unit: a, match: b, command: c, replicas: 2, user: \":g\"}\n"))
	lookup := func(k string) (string, bool) { return "v " + k, k != "UNSET" }
	f.Fuzz(func(t *testing.T, data []byte) {
		// A directory that does not exist: relative env files are missing.
		c, err := Parse("/nonexistent/respawn-fuzz/r.yaml", data, lookup)
		if err == nil {
			if c == nil {
				t.Fatal("nil config without an error")
			}
			for _, s := range c.Services {
				checkKind(t, s)
			}
			checkOrder(t, c)
			for _, s := range c.Services {
				checkProbe(t, s.Name, s.Ready, false)
				checkProbe(t, s.Name, s.Health, true)
			}
			return
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error is not a non-empty ErrorList: %T %v", err, err)
		}
		for _, e := range list {
			if e.Line < 1 || e.Col < 1 || e.Msg == "" {
				t.Fatalf("badly positioned error: %+v", e)
			}
		}
	})
}

// checkOrder fails unless Order names every service once, each after all
// it depends on.
func checkOrder(t *testing.T, c *Config) {
	t.Helper()
	order := c.Order()
	at := make(map[string]int, len(order))
	for i, name := range order {
		if _, dup := at[name]; dup || c.Service(name) == nil {
			t.Fatalf("Order() = %q: %q is repeated or not a service", order, name)
		}
		at[name] = i
	}
	if len(order) != len(c.Services) {
		t.Fatalf("Order() = %q, missing services", order)
	}
	for _, s := range c.Services {
		for _, d := range s.DependsOn {
			if at[d.Name] >= at[s.Name] {
				t.Fatalf("Order() = %q: %s before its dependency %s", order, s.Name, d.Name)
			}
		}
	}
}

// checkProbe fails unless p names at most one probe kind, exactly one
// unless it is a memory-only health check, and has positive timings.
func checkProbe(t *testing.T, name string, p *Probe, health bool) {
	t.Helper()
	if p == nil {
		return
	}
	kinds := 0
	for _, set := range []bool{len(p.Exec) > 0, p.HTTP != "", p.TCP != "", p.Log != nil, p.Notify} {
		if set {
			kinds++
		}
	}
	memoryOnly := health && kinds == 0 && p.MemoryMax > 0
	if (kinds != 1 && !memoryOnly) || p.Interval <= 0 || p.Timeout <= 0 || (health && p.Failures < 1) ||
		(!health && p.Deadline <= 0) || (p.Log != nil && health) || (p.Watchdog > 0 && !p.Notify) {
		t.Fatalf("service %q: bad probe %+v", name, *p)
	}
}

// checkKind fails unless s has a program exactly when its kind runs one,
// and the keys that find its process fit its kind.
func checkKind(t *testing.T, s *Service) {
	t.Helper()
	ids := 0
	for _, set := range []bool{s.Pidfile != "", s.Match != nil, s.Unit != ""} {
		if set {
			ids++
		}
	}
	hasProgram := len(s.Command) > 0 && s.Command[0] != ""
	var ok bool
	switch s.Kind {
	case KindExternal:
		ok = len(s.Command) == 0 && ids == 1 && (s.Start == nil || s.Start[0] != "")
	case KindForking:
		ok = hasProgram && ids == 1 && filepath.IsAbs(s.Pidfile) && s.Start == nil
	default:
		ok = hasProgram && ids == 0 && s.Start == nil
	}
	if !ok || (s.Stop.Command != nil && s.Stop.Command[0] == "") || (s.User == "" && s.Group != "") {
		t.Fatalf("service %q: kind %s does not fit %+v", s.Name, s.Kind, *s)
	}
}
