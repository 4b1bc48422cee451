//go:build linux

package daemon

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/instance"
	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/statedir"
)

func TestSummary(t *testing.T) {
	st := api.Status{Services: []api.Service{{State: "running"}, {State: "failed"}, {State: "running"}}}
	if got, want := summary(st), "3 services: 1 failed, 2 running"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	if got, want := summary(api.Status{}), "0 services: "; got != want {
		t.Errorf("summary of none = %q, want %q", got, want)
	}
}

func TestServiceEnvironDropsSystemdAndKeeperVariables(t *testing.T) {
	got := serviceEnviron([]string{"PATH=/bin", "NOTIFY_SOCKET=/run/x", "WATCHDOG_USEC=1", "WATCHDOG_PID=2", "RESPAWN_KEEPER_SOCKET=/s/keeper.sock", "RESPAWN_STATE_DIR=/s", "HOME=/root"})
	if strings.Join(got, " ") != "PATH=/bin HOME=/root" {
		t.Errorf("serviceEnviron = %q", got)
	}
}

func TestInstanceIDIsStablePerDir(t *testing.T) {
	a, b := instanceID("/var/lib/respawn"), instanceID("/var/lib/other")
	if len(a) != 12 || a == b || a != instanceID("/var/lib/respawn") {
		t.Errorf("instanceID: %q, %q", a, b)
	}
}

func TestNewLogger(t *testing.T) {
	var b logBuffer
	log, err := newLogger(config.LogSettings{Level: "warn", Format: "json"}, &b)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown")
	if s := b.String(); strings.Contains(s, "hidden") || !strings.Contains(s, `"msg":"shown"`) {
		t.Errorf("json logger at warn wrote %q", s)
	}
	if _, err := newLogger(config.LogSettings{Level: "loud"}, &b); err == nil {
		t.Error("newLogger accepted level loud")
	}
}

func TestSupervisorLogOnlyForTheStateDirLog(t *testing.T) {
	dir, err := statedir.Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	if w, err := supervisorLog(dir, logs.Options{}, io.Discard); w != nil || err != nil {
		t.Errorf("a non-file stderr: %v, %v", w, err)
	}
	other, err := os.Create(filepath.Join(t.TempDir(), "elsewhere.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if w, err := supervisorLog(dir, logs.Options{}, other); w != nil || err != nil {
		t.Errorf("a file that is not respawn.log: %v, %v", w, err)
	}
	own, err := dir.OpenAppend(LogName, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	// Rotation redirects fds 1 and 2; nothing here rotates.
	w, err := supervisorLog(dir, logs.Options{MaxSize: 1 << 20, MaxFiles: 2}, own)
	if err != nil || w == nil {
		t.Fatalf("the state dir's log: %v, %v", w, err)
	}
	fmt.Fprintln(w, "a line")
	b, err := os.ReadFile(dir.Join(LogName))
	if err != nil || string(b) != "a line\n" {
		t.Errorf("respawn.log holds %q, %v", b, err)
	}
}

func TestReadyPipe(t *testing.T) {
	t.Setenv(instance.ReadyFDEnv, "")
	os.Unsetenv(instance.ReadyFDEnv)
	r, err := openReadyPipe()
	if err != nil || r.f != nil {
		t.Fatalf("no variable: %+v, %v", r, err)
	}
	r.report(nil, nil) // does nothing

	for _, v := range []string{"x", "1"} {
		t.Setenv(instance.ReadyFDEnv, v)
		if _, err := openReadyPipe(); err == nil {
			t.Errorf("%s=%s accepted", instance.ReadyFDEnv, v)
		}
		if _, ok := os.LookupEnv(instance.ReadyFDEnv); ok {
			t.Errorf("%s left in the environment", instance.ReadyFDEnv)
		}
	}

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	t.Setenv(instance.ReadyFDEnv, strconv.Itoa(int(pw.Fd())))
	r, err = openReadyPipe()
	if err != nil || r.f == nil {
		t.Fatalf("a pipe: %+v, %v", r, err)
	}
	r.report(errors.New("boom"), nil)
	r.report(nil, nil) // once only
	b, err := io.ReadAll(pr)
	if err != nil {
		t.Fatal(err)
	}
	if err := instance.ParseReady(b); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("report read back as %v", err)
	}
}

func TestRaiseFdLimit(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	var b logBuffer
	raiseFdLimit(b.logger(), 1)
	if !strings.Contains(b.String(), "msg=\"open-file limit\"") {
		t.Errorf("one service: %s", b.String())
	}
	var after syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &after); err != nil {
		t.Fatal(err)
	}
	if after.Cur != lim.Max {
		t.Errorf("soft limit %d, want the hard %d", after.Cur, lim.Max)
	}
	b = logBuffer{}
	raiseFdLimit(b.logger(), 1<<31)
	if !strings.Contains(b.String(), "too low") {
		t.Errorf("too many services: %s", b.String())
	}
}

// loadConfig writes src (with state_dir under dir prepended) and loads it.
func loadConfig(t *testing.T, dir, supervisor, services string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, "respawn.yaml")
	body := fmt.Sprintf("version: 1\nsupervisor: {state_dir: %s%s}\nservices:\n%s", filepath.Join(dir, "state"), supervisor, services)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestRunRefusesBeforeStarting(t *testing.T) {
	t.Run("long socket path", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		err := Run(loadConfig(t, dir, "", "  a: {command: [/bin/true]}\n"), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "longer than") {
			t.Errorf("Run: %v", err)
		}
	})
	t.Run("bad token file", func(t *testing.T) {
		dir := t.TempDir()
		cfg := loadConfig(t, dir, ", http: {token_file: "+filepath.Join(dir, "missing")+"}", "  a: {command: [/bin/true]}\n")
		// The outcome reaches `up -d` through the ready pipe.
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer pr.Close()
		t.Setenv(instance.ReadyFDEnv, strconv.Itoa(int(pw.Fd())))
		err = Run(cfg, io.Discard)
		if err == nil {
			t.Fatal("Run with a missing token file succeeded")
		}
		b, rerr := io.ReadAll(pr)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if perr := instance.ParseReady(b); perr == nil {
			t.Errorf("ready pipe reported success for %v", err)
		}
	})
	t.Run("already running", func(t *testing.T) {
		dir := t.TempDir()
		cfg := loadConfig(t, dir, "", "  a: {command: [/bin/true]}\n")
		sd, err := statedir.Open(cfg.Supervisor.StateDir)
		if err != nil {
			t.Fatal(err)
		}
		defer sd.Close()
		lock, err := instance.Acquire(sd, cfg.Path, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Release()
		var running *instance.AlreadyRunningError
		if err := Run(cfg, io.Discard); !errors.As(err, &running) {
			t.Errorf("Run beside a running supervisor: %v", err)
		}
	})
	t.Run("bad log level", func(t *testing.T) {
		dir := t.TempDir()
		cfg := loadConfig(t, dir, "", "  a: {command: [/bin/true]}\n")
		cfg.Supervisor.Log.Level = "loud"
		if err := Run(cfg, io.Discard); err == nil {
			t.Error("Run with log level loud succeeded")
		}
	})
}

func TestResumeWithoutAHandover(t *testing.T) {
	var b logBuffer
	if code := Resume(filepath.Join(t.TempDir(), "nothing"), &b); code == 0 {
		t.Error("Resume without a handover returned 0")
	}
	if !strings.Contains(b.String(), "respawn: keeper:") {
		t.Errorf("stderr: %q", b.String())
	}
}

func TestRemoteRunnerWatch(t *testing.T) {
	p, err := os.StartProcess("/bin/sleep", []string{"sleep", "300"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	defer p.Kill()
	w, err := remoteRunner{}.Watch("ext", p.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if w.Pid() != p.Pid {
		t.Errorf("watched pid %d, want %d", w.Pid(), p.Pid)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.Done():
	case <-time.After(waitLimit):
		t.Fatal("watch saw no end")
	}
}
