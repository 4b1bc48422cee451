package supervisor

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/config"
)

func TestDiffClassifiesChanges(t *testing.T) {
	base := func() *config.Service {
		return &config.Service{
			Name: "web", Kind: config.KindProcess, Command: []string{"./web", "-p", "80"}, Cwd: "/srv",
			Env: []string{"A=1"}, Autostart: true, Line: 4,
			Restart: config.Restart{Policy: config.RestartAlways, Backoff: config.Backoff{Initial: time.Second}},
			Stop:    config.Stop{Signal: "TERM", Timeout: 10 * time.Second},
			Logs:    config.Logs{MaxSize: 10, MaxFiles: 5},
		}
	}
	cases := []struct {
		name string
		edit func(*config.Service)
		want change
	}{
		{"identical", func(*config.Service) {}, unchanged},
		{"moved in the file", func(s *config.Service) { s.Line = 40 }, unchanged},
		{"keys moved in the file", func(s *config.Service) { s.At.Command = config.Pos{Line: 9, Col: 3} }, unchanged},
		{"backoff", func(s *config.Service) { s.Restart.Backoff.Initial = 2 * time.Second }, update},
		{"stop timeout", func(s *config.Service) { s.Stop.Timeout = time.Second }, update},
		{"autostart", func(s *config.Service) { s.Autostart = false }, update},
		{"schedule", func(s *config.Service) { s.Schedule, _ = config.ParseSchedule("@every 1m") }, update},
		{"dependencies", func(s *config.Service) { s.DependsOn = []config.Dependency{{Name: "db"}} }, update},
		{"command", func(s *config.Service) { s.Command = []string{"./web", "-p", "81"} }, restart},
		{"env", func(s *config.Service) { s.Env = []string{"A=2"} }, restart},
		{"cwd", func(s *config.Service) { s.Cwd = "/opt" }, restart},
		{"user", func(s *config.Service) { s.User = "nobody" }, restart},
		{"log size", func(s *config.Service) { s.Logs.MaxSize = 20 }, restart},
		{"kind", func(s *config.Service) { s.Kind = config.KindOneshot }, restart},
		{"strategy", func(s *config.Service) { s.Restart.Strategy = config.StartFirst }, update},
		{"backlog", func(s *config.Service) { s.Backlog = 9 }, update},
		{"socket added", func(s *config.Service) { s.Listen = []config.Listen{{Addr: "tcp://:80", Name: "web"}} }, restart},
		{"policy and command", func(s *config.Service) { s.Restart.Policy = config.RestartNever; s.Command = []string{"x"} }, restart},
	}
	for _, c := range cases {
		cur := base()
		c.edit(cur)
		if got := diff(base(), cur); got != c.want {
			t.Errorf("%s: diff = %d, want %d", c.name, got, c.want)
		}
	}
}

// planReload is pure: every row is an old config, a new one, and the plan.
func TestPlanReload(t *testing.T) {
	svc := func(name, cmd string) *config.Service {
		return &config.Service{Name: name, Kind: config.KindProcess, Command: []string{cmd}, Autostart: true}
	}
	cfg := func(dir string, services ...*config.Service) *config.Config {
		return &config.Config{Path: "/srv/r.yaml", Supervisor: config.Supervisor{StateDir: dir}, Services: services}
	}
	noAuto := svc("b", "b")
	noAuto.Autostart = false
	cases := []struct {
		name     string
		old, cur *config.Config
		want     string // add|remove|restart|update|unchanged, each a comma list
		refused  bool
	}{
		{"nothing changed", cfg("/d", svc("a", "a"), svc("b", "b")), cfg("/d", svc("a", "a"), svc("b", "b")),
			"||||a,b", false},
		{"added, in file order", cfg("/d", svc("a", "a")), cfg("/d", svc("c", "c"), svc("a", "a"), svc("b", "b")),
			"c,b||||a", false},
		{"removed", cfg("/d", svc("a", "a"), svc("b", "b"), svc("c", "c")), cfg("/d", svc("b", "b")),
			"|a,c|||b", false},
		{"command changed: restart", cfg("/d", svc("a", "a")), cfg("/d", svc("a", "a2")),
			"||a||", false},
		{"autostart changed: update", cfg("/d", svc("b", "b")), cfg("/d", noAuto),
			"|||b|", false},
		{"everything at once", cfg("/d", svc("a", "a"), svc("b", "b"), svc("gone", "g"), svc("same", "s")),
			cfg("/d", svc("same", "s"), svc("new", "n"), noAuto, svc("a", "a2")),
			"new|gone|a|b|same", false},
		{"renamed: one removed, one added", cfg("/d", svc("old", "x")), cfg("/d", svc("new", "x")),
			"new|old|||", false},
		{"state dir moved: refused", cfg("/d", svc("a", "a")), cfg("/e", svc("a", "a")), "", true},
	}
	for _, c := range cases {
		p, err := planReload(c.old, c.cur)
		if c.refused {
			var refused *ReloadRefusedError
			if !errors.As(err, &refused) {
				t.Errorf("%s: err %v, want a refusal", c.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := strings.Join([]string{strings.Join(p.Add, ","), strings.Join(p.Remove, ","), strings.Join(p.Restart, ","),
			strings.Join(p.Update, ","), strings.Join(p.Unchanged, ",")}, "|")
		if got != c.want {
			t.Errorf("%s: plan %q, want %q", c.name, got, c.want)
		}
		// Every kept service has its change; added ones have none.
		for _, sc := range c.cur.Services {
			_, kept := p.changes[sc.Name]
			if kept == slices.Contains(p.Add, sc.Name) {
				t.Errorf("%s: %s kept=%v but added=%v", c.name, sc.Name, kept, slices.Contains(p.Add, sc.Name))
			}
		}
		if p.Applied {
			t.Errorf("%s: a plan is not applied", c.name)
		}
	}
}

func TestPlanNamesChangedKeys(t *testing.T) {
	old := &config.Service{Name: "web", Command: []string{"./web", "-p", "80"}, Env: []string{"A=1"}, Autostart: true,
		Stop: config.Stop{Signal: "TERM", Timeout: 10 * time.Second}}
	cur := *old
	cur.Command = []string{"./web", "-p", "81"}
	cur.Stop.Timeout = 3 * time.Second
	cur.Line = 99 // moved: not a change
	p, err := planReload(&config.Config{Services: []*config.Service{old}}, &config.Config{Services: []*config.Service{&cur}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range p.Changes {
		got = append(got, c.Service+" "+c.Key+": "+c.Old+" -> "+c.New)
	}
	want := []string{
		"web command: [./web -p 80] -> [./web -p 81]",
		"web stop: {Signal:TERM Timeout:10s Command:[]} -> {Signal:TERM Timeout:3s Command:[]}",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Join(p.Restart, ",") != "web" {
		t.Errorf("restart %v, want web", p.Restart)
	}
}
