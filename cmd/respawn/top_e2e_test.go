//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// onScreen is how soon top must show a change: it follows the events, so
// this is a round trip, not a polling period.
const onScreen = 2 * time.Second

// topSession runs `respawn top` in a tmux server of its own, 160×40.
type topSession struct {
	t      *testing.T
	socket string
	exit   string // the file top's exit status is written to
}

func startTop(t *testing.T, s *sup) *topSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed: top needs a terminal to run in")
	}
	// remain-on-exit keeps the screen after top exits, for the failures.
	dir := t.TempDir()
	conf := filepath.Join(dir, "tmux.conf")
	if err := os.WriteFile(conf, []byte("set -g remain-on-exit on\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := &topSession{t: t, socket: "respawn-top-" + marker(t), exit: filepath.Join(dir, "exit")}
	t.Cleanup(func() { exec.Command("tmux", "-L", ts.socket, "kill-server").Run() })
	// A shell waits for top and writes down how it ended: tmux itself at
	// times leaves its pane's process unreaped and its status unknown.
	ts.tmux("-f", conf, "new-session", "-d", "-s", "top", "-x", "160", "-y", "40", "--",
		"sh", "-c", `"$0" top -c "$1"; echo $? >"$2.tmp" && mv "$2.tmp" "$2"`, bin, s.config, ts.exit)
	return ts
}

func (ts *topSession) tmux(args ...string) string {
	ts.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", ts.socket}, args...)...).CombinedOutput()
	if err != nil {
		ts.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (ts *topSession) screen() string { return ts.tmux("capture-pane", "-p", "-t", "top") }

// waitScreen polls the screen until cond holds, for at most limit.
func (ts *topSession) waitScreen(what string, limit time.Duration, cond func(string) bool) string {
	ts.t.Helper()
	end := time.Now().Add(limit)
	var s string
	for {
		s = ts.screen()
		if cond(s) {
			return s
		}
		if time.Now().After(end) {
			ts.t.Fatalf("top did not show %s within %s:\n%s", what, limit, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// row finds a service's row on the screen: its state, pid and restarts.
func row(screen, name string) (state, pid, restarts string, selected, ok bool) {
	re := regexp.MustCompile(`(?m)^([ >]) ` + regexp.QuoteMeta(name) + `\s+(\S+)\s+(\S+)\s+\S+\s+(\d+)\s`)
	m := re.FindStringSubmatch(screen)
	if m == nil {
		return "", "", "", false, false
	}
	return m[2], m[3], m[4], m[1] == ">", true
}

func TestTopShowsFollowsAndActs(t *testing.T) {
	m := marker(t)
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  alpha:
    command: sleep 1%s
  beta:
    command: sleep 2%s
`, m, m))
	for _, name := range []string{"alpha", "beta"} {
		s.waitFor(name, "running", func(x api.Service) bool { return x.State == "running" })
	}
	ts := startTop(t, s)
	// How soon a race-enabled binary starts on a loaded machine is not
	// top's doing: the clock starts at its first screen.
	ts.waitScreen("its first screen", deadline, func(scr string) bool { return strings.Contains(scr, "q quit") })
	ts.waitScreen("every service running", onScreen, func(scr string) bool {
		for _, name := range []string{"alpha", "beta"} {
			if state, _, _, _, ok := row(scr, name); !ok || state != "running" {
				return false
			}
		}
		return true
	})

	// A process killed behind the supervisor's back: top shows its respawn.
	before := s.service("beta")
	if err := syscall.Kill(before.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ts.waitScreen("beta respawned", onScreen, func(scr string) bool {
		state, pid, restarts, _, ok := row(scr, "beta")
		return ok && state == "running" && (pid != fmt.Sprint(before.Pid) || restarts != "0")
	})

	// Select beta and restart it.
	ts.tmux("send-keys", "-t", "top", "j")
	ts.waitScreen("beta selected", onScreen, func(scr string) bool {
		_, _, _, selected, _ := row(scr, "beta")
		return selected && strings.Contains(scr, "logs: beta")
	})
	respawned := s.service("beta")
	ts.tmux("send-keys", "-t", "top", "r")
	after := s.waitFor("beta", "restarted by top", func(x api.Service) bool {
		return x.State == "running" && x.Pid != 0 && x.Pid != respawned.Pid
	})
	ts.waitScreen("the restart's result", onScreen, func(scr string) bool {
		return strings.Contains(scr, fmt.Sprintf("restart: beta: running (pid %d)", after.Pid))
	})
	if a := s.service("alpha"); a.Restarts != 0 {
		t.Errorf("alpha was restarted too: %+v", a)
	}

	ts.tmux("send-keys", "-t", "top", "q")
	end := time.Now().Add(deadline)
	for {
		b, err := os.ReadFile(ts.exit)
		if err == nil {
			if code := strings.TrimSpace(string(b)); code != "0" {
				t.Fatalf("top exited %s after q:\n%s", code, ts.screen())
			}
			return
		}
		if time.Now().After(end) {
			t.Fatalf("top still runs %s after q:\n%s", deadline, ts.screen())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
