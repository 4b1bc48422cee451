package supervisor

import (
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
