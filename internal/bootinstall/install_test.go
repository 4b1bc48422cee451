package bootinstall

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTools records calls and plays a crontab.
type fakeTools struct {
	calls   []string
	crontab string
	has     bool
	fail    string // a call prefix that fails
}

var errTool = errors.New("tool failed")

func (f *fakeTools) run(_ context.Context, stdin, name string, args ...string) (string, error) {
	call := strings.Join(append([]string{name}, args...), " ")
	f.calls = append(f.calls, call)
	if f.fail != "" && strings.HasPrefix(call, f.fail) {
		return "", &ToolError{Cmd: call, Code: 4, Err: errTool}
	}
	switch call {
	case "crontab -l":
		if !f.has {
			return "", &ToolError{Cmd: call, Code: 1, Stderr: "no crontab for u", Err: errTool}
		}
		return f.crontab, nil
	case "crontab -":
		f.crontab, f.has = stdin, true
	}
	return "", nil
}

func TestSystemdInstallUninstall(t *testing.T) {
	home := t.TempDir()
	tools := &fakeTools{}
	in := &Installer{Run: tools.run, Home: home}
	tg := mustTarget(t, "/bin/respawn", "/srv/web/respawn.yaml", 0, true)
	path, err := in.Install(context.Background(), tg, Systemd)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, ".config/systemd/user/respawn-web.service"); path != want {
		t.Errorf("wrote %s, want %s", path, want)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != tg.SystemdUnit() {
		t.Fatalf("unit file: %q, %v", b, err)
	}
	want := []string{"systemctl --user daemon-reload", "systemctl --user enable --now respawn-web.service"}
	if strings.Join(tools.calls, "|") != strings.Join(want, "|") {
		t.Errorf("calls %q, want %q", tools.calls, want)
	}
	tools.calls = nil
	if _, err := in.Uninstall(context.Background(), tg, Systemd); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit still there: %v", err)
	}
	want = []string{"systemctl --user disable --now respawn-web.service", "systemctl --user daemon-reload"}
	if strings.Join(tools.calls, "|") != strings.Join(want, "|") {
		t.Errorf("calls %q, want %q", tools.calls, want)
	}
	// A second uninstall finds nothing to do.
	tools.calls = nil
	if _, err := in.Uninstall(context.Background(), tg, Systemd); err != nil || len(tools.calls) != 0 {
		t.Errorf("repeat uninstall: %v, calls %q", err, tools.calls)
	}
}

func TestInstallReportsToolFailure(t *testing.T) {
	tools := &fakeTools{fail: "systemctl --user enable"}
	in := &Installer{Run: tools.run, Home: t.TempDir()}
	tg := mustTarget(t, "/bin/respawn", "/srv/web/respawn.yaml", 0, true)
	_, err := in.Install(context.Background(), tg, Systemd)
	var te *ToolError
	if !errors.As(err, &te) || te.Code != 4 || !errors.Is(err, errTool) {
		t.Errorf("got %v, want the ToolError", err)
	}
}

func TestLaunchdInstallUninstall(t *testing.T) {
	home := t.TempDir()
	tools := &fakeTools{}
	in := &Installer{Run: tools.run, Home: home}
	tg := mustTarget(t, "/bin/respawn", "/srv/web/respawn.yaml", 0, true)
	path, err := in.Install(context.Background(), tg, Launchd)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != tg.LaunchdPlist() {
		t.Fatalf("plist: %q, %v", b, err)
	}
	if _, err := in.Uninstall(context.Background(), tg, Launchd); err != nil {
		t.Fatal(err)
	}
	want := []string{"launchctl load -w " + path, "launchctl unload -w " + path}
	if strings.Join(tools.calls, "|") != strings.Join(want, "|") {
		t.Errorf("calls %q, want %q", tools.calls, want)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("plist still there: %v", err)
	}
}

func TestCronInstallUninstall(t *testing.T) {
	tools := &fakeTools{}
	in := &Installer{Run: tools.run}
	tg := mustTarget(t, "/bin/respawn", "/srv/web/respawn.yaml", 0, false)
	// No crontab yet: crontab -l exits 1, which is an empty crontab.
	if _, err := in.Install(context.Background(), tg, Cron); err != nil {
		t.Fatal(err)
	}
	if tools.crontab != tg.CronLines() {
		t.Fatalf("crontab %q", tools.crontab)
	}
	tools.crontab = "MAILTO=ops\n" + tools.crontab
	if _, err := in.Uninstall(context.Background(), tg, Cron); err != nil {
		t.Fatal(err)
	}
	if tools.crontab != "MAILTO=ops\n" {
		t.Errorf("after uninstall: %q", tools.crontab)
	}
}

func TestCronReadFailureStops(t *testing.T) {
	tools := &fakeTools{fail: "crontab -l"}
	in := &Installer{Run: tools.run}
	tg := mustTarget(t, "/bin/respawn", "/srv/web/respawn.yaml", 0, false)
	if _, err := in.Install(context.Background(), tg, Cron); !errors.Is(err, errTool) {
		t.Errorf("got %v, want the tool error", err)
	}
	for _, c := range tools.calls {
		if c == "crontab -" {
			t.Error("wrote a crontab it could not read")
		}
	}
}

func TestUnknownMethod(t *testing.T) {
	in := &Installer{Run: (&fakeTools{}).run}
	tg := mustTarget(t, "/bin/respawn", "/srv/web/respawn.yaml", 0, false)
	if _, err := in.Install(context.Background(), tg, "rc.local"); !errors.Is(err, ErrUnknownMethod) {
		t.Errorf("install: %v", err)
	}
	if _, err := in.Uninstall(context.Background(), tg, "rc.local"); !errors.Is(err, ErrUnknownMethod) {
		t.Errorf("uninstall: %v", err)
	}
}

func TestExecRunner(t *testing.T) {
	out, err := ExecRunner(context.Background(), "hello", "cat")
	if err != nil || out != "hello" {
		t.Errorf("cat: %q, %v", out, err)
	}
	_, err = ExecRunner(context.Background(), "", "sh", "-c", "echo oops >&2; exit 3")
	var te *ToolError
	if !errors.As(err, &te) || te.Code != 3 || te.Stderr != "oops" {
		t.Errorf("failing tool: %#v", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
func countOf(s, sub string) int   { return strings.Count(s, sub) }
