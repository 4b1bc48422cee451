package bootinstall

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRCDScript(t *testing.T) {
	tg := mustTarget(t, "/usr/local/bin/respawn", "/srv/web.app/respawn.yaml", 0, false)
	script := tg.RCDScript()
	if tg.RCDName() != "respawn_web_app" {
		t.Fatalf("RCDName = %q", tg.RCDName())
	}
	for _, want := range []string{
		"#!/bin/sh\n",
		"# PROVIDE: respawn_web_app\n",
		"# REQUIRE: LOGIN NETWORKING\n",
		"# KEYWORD: shutdown\n",
		". /etc/rc.subr\n",
		"name=respawn_web_app\n",
		"rcvar=respawn_web_app_enable\n",
		"load_rc_config $name\n",
		": ${respawn_web_app_enable:=NO}\n",
		"pidfile=/var/run/${name}.pid\n",
		"command=/usr/sbin/daemon\n",
		"command_args='-r -S -T respawn_web_app -P ${pidfile} -- /usr/local/bin/respawn up --no-output -c /srv/web.app/respawn.yaml'\n",
		"run_rc_command \"$1\"\n",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	shCheck(t, script)
}

// shCheck has sh parse the script without running it.
func shCheck(t *testing.T, script string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sh", "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v: %s\n%s", err, out, script)
	}
}

// TestRCDScriptQuotes runs what rc.subr does with command_args (an eval) on
// paths full of what sh would expand or split: daemon must get them as
// they are.
func TestRCDScriptQuotes(t *testing.T) {
	bin, cfg := `/opt/it's $HOME/re"spawn`, "/srv/`id` a;b\\c/*/respawn.yaml"
	tg := mustTarget(t, bin, cfg, 0, false)
	script := tg.RCDScript()
	shCheck(t, script)
	var assign string
	for line := range strings.Lines(script) {
		if strings.HasPrefix(line, "command_args=") {
			assign = line
		}
	}
	if assign == "" {
		t.Fatalf("no command_args:\n%s", script)
	}
	prog := "pidfile=/var/run/x.pid\n" + assign + `eval "set -- $command_args"; printf '%s\0' "$@"`
	out, err := exec.Command("sh", "-c", prog).Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	want := []string{"-r", "-S", "-T", tg.RCDName(), "-P", "/var/run/x.pid", "--", bin, "up", "--no-output", "-c", cfg}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("daemon would get %q, want %q", got, want)
	}
}

func TestRCDInstallUninstall(t *testing.T) {
	dir := t.TempDir()
	tools := &fakeTools{}
	in := &Installer{Run: tools.run, RCDDir: dir}
	tg := mustTarget(t, "/usr/local/bin/respawn", "/srv/web/respawn.yaml", 0, false)
	path, err := in.Install(context.Background(), tg, RCD)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "respawn_web"); path != want {
		t.Errorf("wrote %s, want %s", path, want)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("script: %v, %v; want mode 0755", fi, err)
	}
	if b, _ := os.ReadFile(path); string(b) != tg.RCDScript() {
		t.Fatalf("script file:\n%s", b)
	}
	want := "sysrc respawn_web_enable=YES|service respawn_web start"
	if got := strings.Join(tools.calls, "|"); got != want {
		t.Errorf("install calls %q, want %q", got, want)
	}

	// A failing onestop keeps the script.
	tools.calls, tools.fail = nil, "service respawn_web onestop"
	if _, err := in.Uninstall(context.Background(), tg, RCD); err == nil {
		t.Fatal("a failing onestop (code 4) passed")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("script removed after a failed stop: %v", err)
	}
	// Not running: onestop exits 1, and the script still goes.
	tools.calls, tools.fail = nil, ""
	in.Run = func(ctx context.Context, stdin, name string, args ...string) (string, error) {
		if out, err := tools.run(ctx, stdin, name, args...); name != "service" {
			return out, err
		}
		return "", &ToolError{Cmd: "service", Code: 1, Stderr: "respawn_web not running?", Err: errTool}
	}
	if _, err := in.Uninstall(context.Background(), tg, RCD); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("script still there: %v", err)
	}
	want = "service respawn_web onestop|sysrc -x respawn_web_enable"
	if got := strings.Join(tools.calls, "|"); got != want {
		t.Errorf("uninstall calls %q, want %q", got, want)
	}
	// Again: nothing to do.
	tools.calls = nil
	if _, err := in.Uninstall(context.Background(), tg, RCD); err != nil || len(tools.calls) != 0 {
		t.Fatalf("second uninstall: %v, calls %q", err, tools.calls)
	}

	user := mustTarget(t, "/usr/local/bin/respawn", "/srv/web/respawn.yaml", 0, true)
	if _, err := in.Install(context.Background(), user, RCD); !errors.Is(err, ErrRCDUser) {
		t.Fatalf("user install: %v, want ErrRCDUser", err)
	}
}
