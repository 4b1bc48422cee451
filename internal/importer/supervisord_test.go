package importer

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/config"
)

func TestSupervisordDebianWithIncludeGroupsAndNumprocs(t *testing.T) {
	res, err := Supervisord("testdata/supervisord/debian/supervisord.conf")
	if err != nil {
		t.Fatal(err)
	}
	cfg := parse(t, res, nil)
	// Priorities: web 200; the jobs group 250 holds beat (100) and celery (300).
	if got, want := names(cfg), []string{"web", "beat", "celery_00", "celery_01"}; !slices.Equal(got, want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	web := svc(t, cfg, "web")
	if web.Restart.Policy != config.RestartAlways || web.Stop.Signal != "QUIT" || web.Stop.Timeout != 30*time.Second {
		t.Errorf("web restart %+v stop %+v", web.Restart, web.Stop)
	}
	if web.User != "www-data" || web.Cwd != "/srv/app" || web.Logs.MaxSize != 20<<20 || web.Logs.MaxFiles != 4 {
		t.Errorf("web user %q cwd %q logs %+v", web.User, web.Cwd, web.Logs)
	}
	if !envHas(web, "APP_ENV=production") || !envHas(web, "DATABASE_URL=postgres://app@localhost/app?sslmode=disable") {
		t.Errorf("web env %v", web.Env)
	}
	if web.Restart.Limit.Burst != 4 || web.Restart.ResetAfter != 5*time.Second || web.Restart.Cooldown != 0 {
		t.Errorf("web restart %+v", web.Restart)
	}
	abs, _ := filepath.Abs("testdata/supervisord/debian/app")
	for i, name := range []string{"celery_00", "celery_01"} {
		c := svc(t, cfg, name)
		if c.ServiceGroup != "jobs" || c.Cwd != abs {
			t.Errorf("%s group %q cwd %q, want jobs and %s", name, c.ServiceGroup, c.Cwd, abs)
		}
		if c.Restart.Policy != config.RestartOnFailure || !slices.Equal(c.Restart.SuccessCodes, []int{0, 2}) {
			t.Errorf("%s restart %+v", name, c.Restart)
		}
		if want := "worker0" + string(rune('0'+i)) + "@"; !strings.HasPrefix(c.Command[5], want) {
			t.Errorf("%s command %q, want -n %s…", name, c.Command, want)
		}
	}
	noted(t, res, "program:web", "stdout_logfile=/var/log/app/web.log")
	noted(t, res, "program:celery", "command: %(host_node_name)s")
	noted(t, res, "program:beat", "startretries=10")
	for _, sec := range []string{"[unix_http_server]", "[rpcinterface:supervisor]", "[supervisorctl]", "[supervisord] logfile", "[supervisord] pidfile", "[supervisord] childlogdir"} {
		noted(t, res, "", sec)
	}
	// stopasgroup=true everywhere: nothing changed there.
	if strings.Contains(string(res.YAML), "asgroup") {
		t.Errorf("stopasgroup=true noted:\n%s", res.YAML)
	}
}

func TestSupervisordSingleFile(t *testing.T) {
	res, err := Supervisord("testdata/supervisord/single/supervisord.conf")
	if err != nil {
		t.Fatal(err)
	}
	cfg := parse(t, res, map[string]string{"HOME": "/home/ops"})
	redis := svc(t, cfg, "redis")
	if !slices.Equal(redis.Command, []string{"redis-server", "--port", "6379", "--save", ""}) {
		t.Errorf("redis command %q: the continuation line and the empty quoted word", redis.Command)
	}
	if redis.Restart.Policy != config.RestartNever || redis.Umask == nil || *redis.Umask != 0o22 {
		t.Errorf("redis restart %+v umask %v", redis.Restart, redis.Umask)
	}
	api := svc(t, cfg, "api")
	// The ; comment is gone; ${PORT:-9000} reaches sh unexpanded.
	if want := []string{"sh", "-c", "exec ./api --listen :${PORT:-9000} 2>&1"}; !slices.Equal(api.Command, want) {
		t.Errorf("api command %q, want %q", api.Command, want)
	}
	for _, kv := range []string{"PORT=9000", "GREETING=hello, world", "HOME_DIR=/home/ops"} {
		if !envHas(api, kv) {
			t.Errorf("api env %v lacks %s", api.Env, kv)
		}
	}
	if api.Restart.Limit.Burst != 0 || api.Logs.MaxFiles != 1 {
		t.Errorf("api restart %+v logs %+v", api.Restart, api.Logs)
	}
	for _, n := range [][2]string{
		{"", "[eventlistener:memmon]"}, {"", "[supervisord] nodaemon"}, {"", "[supervisord] user"},
		{"program:redis", "stdout_logfile=NONE"}, {"program:redis", "stderr_logfile=/var/log/redis.err"},
		{"program:redis", "stderr_logfile_maxbytes=1MB"}, {"program:redis", "autorestart=false"},
		{"program:redis", "stopasgroup=false"}, {"program:redis", "killasgroup=false"},
		{"program:api", "startsecs=0"}, {"program:api", "redirect_stderr=false"},
		{"program:api", "stdout_logfile_maxbytes=0"}, {"program:api", "stdout_logfile_backups=0"},
	} {
		noted(t, res, n[0], n[1])
	}
}

// TestSupervisordNamesEveryUnmappedKey feeds every program key respawn has
// no counterpart for, and a key supervisord does not know.
func TestSupervisordNamesEveryUnmappedKey(t *testing.T) {
	conf := "[program:p]\ncommand=sleep 1\nstopasgroup=true\nkillasgroup=true\nfrobnicate=1\n"
	for k := range supervisordUnmapped.Get() {
		conf += k + "=x\n"
	}
	dir := write(t, map[string]string{"supervisord.conf": conf})
	res, err := Supervisord(filepath.Join(dir, "supervisord.conf"))
	if err != nil {
		t.Fatal(err)
	}
	parse(t, res, nil)
	for k := range supervisordUnmapped.Get() {
		noted(t, res, "program:p", k)
	}
	noted(t, res, "program:p", "frobnicate")
	if len(res.Notes) != len(supervisordUnmapped.Get())+1+2 { // + the restart delay and limit
		t.Errorf("%d notes:\n%s", len(res.Notes), strings.Join(res.Notes, "\n"))
	}
}

func TestSupervisordExpansionsAndEscapes(t *testing.T) {
	dir := write(t, map[string]string{
		"supervisord.conf": `[program:x]
command=/bin/echo "%(program_name)s in %(here)s" 100%% ${NOT_A_VAR} $$ %(ENV_WHO)s
autostart=no
stopasgroup=true
killasgroup=true
`,
	})
	res, err := Supervisord(filepath.Join(dir, "supervisord.conf"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := parse(t, res, map[string]string{"WHO": "me", "NOT_A_VAR": "expanded"})
	x := svc(t, cfg, "x")
	want := []string{"/bin/echo", "x in " + dir, "100%", "${NOT_A_VAR}", "$$", "me"}
	if !slices.Equal(x.Command, want) || x.Autostart {
		t.Errorf("command %q autostart %v, want %q and false", x.Command, x.Autostart, want)
	}
}

func TestSupervisordRefusals(t *testing.T) {
	for name, conf := range map[string]string{
		"numprocs without process_num":  "[program:w]\ncommand=w\nnumprocs=2\n",
		"group names a missing program": "[program:a]\ncommand=a\n[group:g]\nprograms=a,b\n",
		"no command":                    "[program:a]\ndirectory=/\n",
		"unknown expansion":             "[program:a]\ncommand=a %(nope)s\n",
		"bad autorestart":               "[program:a]\ncommand=a\nautorestart=sometimes\n",
		"unclosed quote":                "[program:a]\ncommand=a 'b\n",
		"two names collide":             "[program:a-b]\ncommand=a\n[program:a_b]\ncommand=b\nprocess_name=a-b\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := write(t, map[string]string{"supervisord.conf": conf})
			if res, err := Supervisord(filepath.Join(dir, "supervisord.conf")); err == nil {
				t.Errorf("accepted:\n%s", res.YAML)
			}
		})
	}
}
