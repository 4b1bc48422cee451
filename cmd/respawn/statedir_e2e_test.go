//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/client"
)

// otherUID is a user other than root that owns the planted files.
const otherUID = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the attack is another user's files under a supervisor run by root")
	}
}

// runBounded is runRespawn for a command that must end by itself: past the
// deadline its whole process group is killed and the code is -1.
func runBounded(dir string, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return "", err.Error(), -1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(deadline):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return out.String(), errb.String() + "\n(killed: still running after the deadline)", -1
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		return out.String(), errb.String(), -1
	}
	return out.String(), errb.String(), 0
}

// writeFile writes content at path or fails the test.
func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(path, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// untouched fails the test if the file at path no longer holds content.
func untouched(t *testing.T, path, content string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
	} else if string(b) != content {
		t.Errorf("%s was written through a planted symlink: it holds %q, want %q", path, b, content)
	}
}

// plantingConfig has a service that prints what an attacker would like root
// to append to a file of its choice.
const plantingConfig = `version: 1
services:
  web:
    command: ["sh", "-c", "echo 'PLANTED $(id)'; exec sleep 1000"]
`

// The reproduction: the app user owns the folder the config lives in
// (as is common for /srv/app) and plants symlinks in .respawn/; root's `up`
// must refuse, exit 2, and write nothing through them.
func TestUpRefusesStateDirAnotherUserControls(t *testing.T) {
	needRoot(t)
	t.Parallel()
	for _, tc := range []struct {
		name    string
		ownsApp bool   // the other user owns the config's folder too
		refused string // the path the refusal names, relative to the case dir
		reason  string
	}{
		{name: "app-owns-folder", ownsApp: true, refused: "app", reason: "a parent of the state dir is owned by user "},
		{name: "app-owns-state", refused: "app/.respawn", reason: "is owned by user "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			// Root's own files the attacker points at.
			crashTarget := filepath.Join(dir, "root-file")
			logTarget := filepath.Join(dir, "bashrc")
			writeFile(t, crashTarget, "root's file\n", 0o644)
			writeFile(t, logTarget, "# root's .bashrc\n", 0o644)

			app := filepath.Join(dir, "app")
			mkdir(t, app, 0o755)
			cfg := filepath.Join(app, "respawn.yaml")
			writeFile(t, cfg, plantingConfig, 0o644)
			t.Cleanup(func() { runBounded(app, "down", "-c", cfg) }) // when the refusal fails
			state := filepath.Join(app, ".respawn")
			mkdir(t, state, 0o755)
			mkdir(t, filepath.Join(state, "logs"), 0o755)
			symlink(t, crashTarget, filepath.Join(state, "core-crash.log"))
			symlink(t, logTarget, filepath.Join(state, "logs", "web.log"))
			symlink(t, logTarget, filepath.Join(state, "respawn.log"))
			owned := []string{state, filepath.Join(state, "logs"), filepath.Join(state, "core-crash.log"),
				filepath.Join(state, "logs", "web.log"), filepath.Join(state, "respawn.log")}
			if tc.ownsApp {
				owned = append(owned, app, cfg)
			}
			for _, p := range owned {
				if err := os.Lchown(p, otherUID, otherUID); err != nil {
					t.Fatal(err)
				}
			}

			for _, args := range [][]string{{"up"}, {"up", "-d"}} {
				_, errs, code := runBounded(dir, append(args, "-c", cfg)...)
				want := filepath.Join(dir, tc.refused)
				if code != 2 || !strings.Contains(errs, "refusing "+want+": ") || !strings.Contains(errs, tc.reason) || !strings.Contains(errs, "(uid 65534)") ||
					!strings.Contains(errs, "supervisor.state_dir") {
					t.Errorf("%s: exit %d, stderr %q; want 2, refusing %s: %s", strings.Join(args, " "), code, errs, want, tc.reason)
				}
			}
			untouched(t, crashTarget, "root's file\n")
			untouched(t, logTarget, "# root's .bashrc\n")
			// Refused, so not taken over either: still theirs, as it was.
			fi, err := os.Lstat(state)
			if err != nil {
				t.Fatal(err)
			}
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != otherUID || fi.Mode().Perm() != 0o755 {
				t.Errorf("refused state dir changed: uid %d, mode %v", st.Uid, fi.Mode().Perm())
			}
			if _, err := os.Lstat(filepath.Join(state, "respawn.lock")); err == nil {
				t.Error("a lock file was created in the refused state dir")
			}
		})
	}
}

// A state dir of root's own that holds symlinks (planted before it was
// locked down, or by a restore from a backup) is never written through.
func TestPlantedSymlinksInOwnStateDirAreNotFollowed(t *testing.T) {
	needRoot(t)
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "root-file")
	writeFile(t, target, "root's file\n", 0o644)
	app := filepath.Join(dir, "app")
	mkdir(t, app, 0o755)
	cfg := filepath.Join(app, "respawn.yaml")
	writeFile(t, cfg, plantingConfig, 0o644)
	t.Cleanup(func() { runBounded(app, "down", "-c", cfg) }) // when a refusal fails
	state := filepath.Join(app, ".respawn")
	mkdir(t, state, 0o700)
	mkdir(t, filepath.Join(state, "logs"), 0o700)

	// Each planted link is refused by name, exit 2, and nothing is written
	// through it; with the link gone, up runs.
	for _, name := range []string{"core-crash.log", "logs/web.log", "keeper.pids", "events.jsonl", "respawn.lock", "respawn.log"} {
		link := filepath.Join(state, name)
		_ = os.Remove(link) // left by an earlier run of this loop
		symlink(t, target, link)
		for _, args := range [][]string{{"up", "-d"}, {"up"}} {
			_, errs, code := runBounded(app, append(args, "-c", cfg)...)
			if code != 2 || !strings.Contains(errs, "refusing "+link+": is a symlink") {
				t.Errorf("%s with %s planted: exit %d, stderr %q; want 2 and a refusal naming it", strings.Join(args, " "), name, code, errs)
				runBounded(app, "down", "-c", cfg)
			}
		}
		untouched(t, target, "root's file\n")
		if err := os.Remove(link); err != nil {
			t.Fatal(err)
		}
	}
	if _, errs, code := runBounded(app, "up", "-d", "-c", cfg); code != 0 {
		t.Fatalf("up -d once the links are gone: exit %d: %s", code, errs)
	}
	if _, errs, code := runBounded(app, "down", "-c", cfg); code != 0 {
		t.Fatalf("down: exit %d: %s", code, errs)
	}
	if log := readFile(t, filepath.Join(state, "logs", "web.log")); !strings.Contains(log, "PLANTED") {
		t.Errorf("the service's log lacks its line: %q", log)
	}
	untouched(t, target, "root's file\n")

	// The state dir itself a symlink (to a dir root owns): refused.
	real := filepath.Join(dir, "real-state")
	mkdir(t, real, 0o700)
	if err := os.RemoveAll(state); err != nil {
		t.Fatal(err)
	}
	symlink(t, real, state)
	_, errs, code := runBounded(app, "up", "-d", "-c", cfg)
	if code != 2 || !strings.Contains(errs, "refusing "+state+": is a symlink") {
		t.Errorf("up -d with a symlinked state dir: exit %d, stderr %q; want 2", code, errs)
	}
	if entries, _ := os.ReadDir(real); len(entries) != 0 {
		t.Errorf("the symlinked state dir's target was written: %v", entries)
	}
}

// A state dir below a directory every user can write to (without the sticky
// bit) could be swapped by anyone: refused. Below a sticky one such as /tmp
// it is fine: others cannot replace what they do not own.
func TestStateDirParentsWritableByOthers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	mkdir(t, open, 0o777)
	cfg := filepath.Join(open, "respawn.yaml")
	writeFile(t, cfg, "version: 1\nservices:\n  a:\n    command: sleep 1000\n", 0o644)
	t.Cleanup(func() { runBounded(open, "down", "-c", cfg) }) // when the refusal fails
	_, errs, code := runBounded(open, "up", "-d", "-c", cfg)
	if code != 2 || !strings.Contains(errs, "refusing "+open+": a parent of the state dir is writable by every user") {
		t.Errorf("world-writable parent: exit %d, stderr %q; want 2 and a refusal", code, errs)
	}
	if _, err := os.Lstat(filepath.Join(open, ".respawn")); err == nil {
		t.Error("a state dir was created below the world-writable parent")
	}

	sticky := filepath.Join(dir, "sticky")
	mkdir(t, sticky, 0o777|os.ModeSticky)
	app := filepath.Join(sticky, "app")
	mkdir(t, app, 0o755)
	cfg = filepath.Join(app, "respawn.yaml")
	writeFile(t, cfg, "version: 1\nservices:\n  a:\n    command: sleep 1000\n", 0o644)
	t.Cleanup(func() { runBounded(app, "down", "-c", cfg) })
	if _, errs, code := runBounded(app, "up", "-d", "-c", cfg); code != 0 {
		t.Fatalf("below a sticky dir: exit %d, stderr %q; want 0", code, errs)
	}
	if _, errs, code := runBounded(app, "down", "-c", cfg); code != 0 {
		t.Errorf("down: exit %d: %s", code, errs)
	}
}

// Two configs in one folder each get their own state: both run side by side
// and each status lists its own services. Two that name one state_dir are
// refused, naming the config that holds it.
func TestTwoConfigsInOneFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	writeFile(t, a, "version: 1\nservices:\n  alpha:\n    command: sleep 1000\n", 0o644)
	writeFile(t, b, "version: 1\nservices:\n  beta:\n    command: sleep 1000\n", 0o644)
	t.Cleanup(func() {
		runBounded(dir, "down", "-c", a)
		runBounded(dir, "down", "-c", b)
	})
	for _, cfg := range []string{a, b} {
		if out, errs, code := runBounded(dir, "up", "-d", "-c", cfg); code != 0 {
			t.Fatalf("up -d -c %s: exit %d, %s%s", cfg, code, out, errs)
		}
	}
	for cfg, want := range map[string]string{a: "alpha", b: "beta"} {
		st := detachedStatus(t, dir, cfg)
		if len(st.Services) != 1 || st.Services[0].Name != want || st.Supervisor.Config != cfg {
			t.Errorf("status -c %s: config %s, services %+v; want only %s", cfg, st.Supervisor.Config, st.Services, want)
		}
	}
	if detachedStatus(t, dir, a).Supervisor.Pid == detachedStatus(t, dir, b).Supervisor.Pid {
		t.Error("both configs answered from one supervisor")
	}
	if _, err := os.Stat(filepath.Join(dir, ".respawn-b", "logs", "beta.log")); err != nil {
		t.Errorf("b.yaml's state: %v", err)
	}

	// An explicit shared state_dir: the second is refused, naming the first.
	c, d := filepath.Join(dir, "c.yaml"), filepath.Join(dir, "d.yaml")
	writeFile(t, c, "version: 1\nsupervisor: {state_dir: shared}\nservices:\n  gamma:\n    command: sleep 1000\n", 0o644)
	writeFile(t, d, "version: 1\nsupervisor: {state_dir: shared}\nservices:\n  delta:\n    command: sleep 1000\n", 0o644)
	t.Cleanup(func() { runBounded(dir, "down", "-c", c) })
	if out, errs, code := runBounded(dir, "up", "-d", "-c", c); code != 0 {
		t.Fatalf("up -d -c c.yaml: exit %d, %s%s", code, out, errs)
	}
	pid := detachedStatus(t, dir, c).Supervisor.Pid
	want := fmt.Sprintf("state dir %s is in use by the supervisor of %s (pid %d)", filepath.Join(dir, "shared"), c, pid)
	for _, args := range [][]string{{"up", "-d"}, {"up", "-d", "--ensure"}, {"up"}} {
		_, errs, code := runBounded(dir, append(args, "-c", d)...)
		if code != 2 || !strings.Contains(errs, want) {
			t.Errorf("%s -c d.yaml: exit %d, stderr %q; want 2 and %q", strings.Join(args, " "), code, errs, want)
		}
	}
	// Commands with d.yaml do not answer for c.yaml's supervisor.
	for _, args := range [][]string{{"status"}, {"stop", "gamma"}, {"down"}} {
		_, errs, code := runBounded(dir, append(args, "-c", d)...)
		if code != 2 || !strings.Contains(errs, want) {
			t.Errorf("%s -c d.yaml: exit %d, stderr %q; want 2 and %q", strings.Join(args, " "), code, errs, want)
		}
	}
	if st := detachedStatus(t, dir, c); st.Supervisor.Pid != pid || len(st.Services) != 1 || st.Services[0].State != "running" {
		t.Errorf("c.yaml's supervisor after commands with d.yaml: %+v", st)
	}
	// The same config again is still plain "already running".
	if _, errs, code := runBounded(dir, "up", "-d", "-c", c); code != 3 || !strings.Contains(errs, fmt.Sprintf("already running (pid %d)", pid)) {
		t.Errorf("second up -d -c c.yaml: exit %d, stderr %q", code, errs)
	}
}

// The state dir is the supervisor's for its life: a core started after the
// config's state_dir was edited (or its default moved with an upgrade) works
// in the dir the keeper holds, and the services carry on.
func TestNewCoreKeepsTheHeldStateDir(t *testing.T) {
	t.Parallel()
	config := "version: 1\nservices:\n  talker:\n    command: [\"sh\", \"-c\", \"while :; do echo hi; sleep 0.05; done\"]\n"
	s := startSup(t, config)
	st := s.status()
	svc := s.service("talker")
	writeFile(t, s.config, "version: 1\nsupervisor: {state_dir: elsewhere}\n"+strings.TrimPrefix(config, "version: 1\n"), 0o644)
	if err := syscall.Kill(st.Supervisor.CorePid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The CLI follows the file on disk (and refuses another config's
	// supervisor): ask the held dir's socket directly.
	c := client.New(filepath.Join(st.Supervisor.StateDir, "respawn.sock"))
	var now api.Status
	end := time.Now().Add(deadline)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		got, err := c.Status(ctx)
		cancel()
		if err == nil && got.Supervisor.CorePid != st.Supervisor.CorePid && got.Supervisor.CorePid != 0 {
			now = got
			break
		}
		if time.Now().After(end) {
			t.Fatalf("no new core answers in the held state dir\n%s", s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	writeFile(t, s.config, config, 0o644)
	if now.Supervisor.StateDir != st.Supervisor.StateDir || now.Supervisor.Pid != st.Supervisor.Pid {
		t.Errorf("after the core restart: state dir %s, keeper %d; want %s, %d", now.Supervisor.StateDir, now.Supervisor.Pid, st.Supervisor.StateDir, st.Supervisor.Pid)
	}
	if got := s.service("talker"); got.Pid != svc.Pid || got.State != "running" {
		t.Errorf("talker after the core restart: %+v; want pid %d running", got, svc.Pid)
	}
	if _, err := os.Lstat(filepath.Join(s.dir, "elsewhere")); err == nil {
		t.Error("the core made the state dir the edited config names")
	}
}
