package importer

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/config"
)

func TestProcessComposeWithDependsOnAndProbes(t *testing.T) {
	res, err := ProcessCompose("testdata/process-compose/process-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := parse(t, res, nil)
	if got, want := names(cfg), []string{"postgres", "migrate", "api.1", "api.2", "cache", "docs"}; !slices.Equal(got, want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	pg := svc(t, cfg, "postgres")
	if !slices.Equal(pg.Command, []string{"bash", "-c", "postgres -D ./data -p 5432"}) || !envHas(pg, "APP_ENV=dev") {
		t.Errorf("postgres command %q env %v", pg.Command, pg.Env)
	}
	if pg.Ready == nil || pg.Ready.Interval != 2*time.Second || pg.Ready.Timeout != 3*time.Second || len(pg.Ready.Exec) != 3 {
		t.Errorf("postgres ready %+v", pg.Ready)
	}
	b := pg.Restart.Backoff
	if pg.Restart.Policy != config.RestartAlways || b.Initial != 2*time.Second || b.Max != 2*time.Second || b.Factor != 1 || b.Jitter != 0 || pg.Restart.Limit.Burst != 0 {
		t.Errorf("postgres restart %+v", pg.Restart)
	}
	if pg.Stop.Timeout != 20*time.Second {
		t.Errorf("postgres stop %+v", pg.Stop)
	}
	if m := svc(t, cfg, "migrate"); m.Kind != config.KindOneshot || m.DependsOn[0] != (config.Dependency{Name: "postgres", Condition: config.CondReady}) {
		t.Errorf("migrate kind %s depends %+v", m.Kind, m.DependsOn)
	}
	api := svc(t, cfg, "api.1")
	if api.ServiceGroup != "backend" || api.Restart.Policy != config.RestartOnFailure || api.Restart.Limit.Burst != 4 {
		t.Errorf("api group %q restart %+v", api.ServiceGroup, api.Restart)
	}
	if api.Ready == nil || api.Ready.HTTP != "http://127.0.0.1:8080/healthz" || api.Health == nil || api.Health.HTTP != "http://127.0.0.1:8080/healthz" || api.Health.Interval != 5*time.Second {
		t.Errorf("api ready %+v health %+v", api.Ready, api.Health)
	}
	deps := map[string]config.Condition{}
	for _, d := range api.DependsOn {
		deps[d.Name] = d.Condition
	}
	if deps["migrate"] != config.CondCompleted || deps["cache"] != config.CondReady {
		t.Errorf("api depends %+v", api.DependsOn)
	}
	cache := svc(t, cfg, "cache")
	if cache.Ready == nil || cache.Ready.Log == nil || !cache.Ready.Log.MatchString("* Ready to accept connections tcp") {
		t.Errorf("cache ready %+v", cache.Ready)
	}
	if !slices.Equal(cache.Stop.Command, []string{"bash", "-c", "redis-cli -p 6380 shutdown"}) {
		t.Errorf("cache stop %+v", cache.Stop)
	}
	if svc(t, cfg, "docs").Autostart {
		t.Error("docs is disabled, yet starts")
	}
	for _, n := range [][2]string{
		{"", "log_level"}, {"", "log_location"}, {"", "is_strict"},
		{"postgres", "readiness_probe.initial_delay_seconds"}, {"postgres", "readiness_probe.failure_threshold"},
		{"migrate", "kind"}, {"migrate", "availability.restart: exit_on_failure"},
		{"api", "description"}, {"api", "replicas"}, {"api", "availability.max_restarts"},
		{"cache", "is_tty"}, {"cache", "shutdown.parent_only"},
	} {
		noted(t, res, n[0], n[1])
	}
	if strings.Count(string(res.YAML), "initial_delay_seconds") != 1 {
		t.Errorf("initial_delay_seconds noted more than once:\n%s", res.YAML)
	}
}

// TestProcessComposeNamesEveryUnmappedKey feeds every key process-compose
// knows that respawn has no counterpart for, at its level.
func TestProcessComposeNamesEveryUnmappedKey(t *testing.T) {
	top := []string{"log_location", "log_configuration", "log_level", "log_length", "is_strict", "vars", "env_cmds",
		"disable_env_expansion", "ordered_shutdown", "is_tui_disabled", "extends"}
	proc := []string{"description", "is_tty", "is_foreground", "is_interactive", "is_elevated", "launch_timeout_seconds",
		"disable_ansi_colors", "log_location", "log_configuration", "vars", "frobnicate"}
	var b strings.Builder
	for _, k := range top {
		b.WriteString(k + ": x\n")
	}
	b.WriteString("processes:\n  p:\n    command: sleep 1\n")
	for _, k := range proc {
		b.WriteString("    " + k + ": x\n")
	}
	b.WriteString(`    availability: {restart: always, exit_on_end: true, exit_on_skipped: true}
    shutdown: {parent_only: true}
    readiness_probe: {exec: {command: "true", working_dir: /}, initial_delay_seconds: 1, success_threshold: 2}
`)
	dir := write(t, map[string]string{"process-compose.yaml": b.String()})
	res, err := ProcessCompose(filepath.Join(dir, "process-compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	parse(t, res, nil)
	for _, k := range top {
		noted(t, res, "", k)
	}
	for _, k := range proc {
		noted(t, res, "p", k)
	}
	for _, k := range []string{"availability.exit_on_end", "availability.exit_on_skipped", "shutdown.parent_only",
		"readiness_probe.exec.working_dir", "readiness_probe.initial_delay_seconds", "readiness_probe.success_threshold"} {
		noted(t, res, "p", k)
	}
}

func TestProcessComposeRefusals(t *testing.T) {
	for name, y := range map[string]string{
		"no processes":       "version: '0.5'\n",
		"no command":         "processes:\n  a: {working_dir: /}\n",
		"unknown condition":  "processes:\n  a: {command: x, depends_on: {b: {condition: soon}}}\n  b: {command: y}\n",
		"missing depends":    "processes:\n  a: {command: x, depends_on: {b: {}}}\n",
		"probe without kind": "processes:\n  a: {command: x, readiness_probe: {period_seconds: 1}}\n",
		"not yaml":           "processes: [\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := write(t, map[string]string{"pc.yaml": y})
			if res, err := ProcessCompose(filepath.Join(dir, "pc.yaml")); err == nil {
				t.Errorf("accepted:\n%s", res.YAML)
			}
		})
	}
}

// TestProcessComposeDaemonIsWrittenStopped: respawn would stop the daemon
// a launcher leaves, so it is written stopped and the note says what to do.
func TestProcessComposeDaemonIsWrittenStopped(t *testing.T) {
	dir := write(t, map[string]string{"pc.yaml": "processes:\n  d: {command: nginx, is_daemon: true}\n"})
	res, err := ProcessCompose(filepath.Join(dir, "pc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if d := svc(t, parse(t, res, nil), "d"); d.Autostart || d.Kind != config.KindOneshot {
		t.Errorf("d autostart %v kind %s", d.Autostart, d.Kind)
	}
	noted(t, res, "d", "is_daemon: not carried over")
}
