//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

func TestReloadAppliesOnlyTheDifference(t *testing.T) {
	t.Parallel()
	m := marker(t)
	v1 := fmt.Sprintf(`
version: 1
services:
  keep: {command: sleep 1%[1]s}
  change: {command: sleep 2%[1]s, env: {A: "1"}}
  gone: {command: ["sh", "-c", "sleep 3%[1]s & sleep 4%[1]s & wait"]}
`, m)
	s := startSup(t, v1)
	for _, n := range []string{"keep", "change", "gone"} {
		s.waitFor(n, "running", func(x api.Service) bool { return x.State == "running" })
	}
	waitCount(t, "sleep 3"+m, 1)
	before := map[string]int{}
	for _, svc := range s.status().Services {
		before[svc.Name] = svc.Pid
	}

	v2 := fmt.Sprintf(`
version: 1
services:
  keep: {command: sleep 1%[1]s}
  change: {command: sleep 2%[1]s, env: {A: "2"}}
  added: {command: sleep 5%[1]s}
`, m)
	if err := os.WriteFile(s.config, []byte(v2), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := s.run("reload", "--dry-run")
	if code != 0 {
		t.Fatalf("reload --dry-run: exit %d %s", code, stderr)
	}
	for _, want := range []string{"dry run", "add:", "added", "remove:", "gone", "restart:", "change", "unchanged:", "keep"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run plan lacks %q:\n%s", want, out)
		}
	}
	st := s.status()
	if len(st.Services) != 3 {
		t.Errorf("dry run changed the set: %+v", st.Services)
	}
	for _, svc := range st.Services {
		if svc.Pid != before[svc.Name] {
			t.Errorf("dry run changed %s: pid %d -> %d", svc.Name, before[svc.Name], svc.Pid)
		}
	}

	out, stderr, code = s.run("reload", "-o", "json")
	if code != 0 {
		t.Fatalf("reload: exit %d %s", code, stderr)
	}
	var plan api.Plan
	if err := json.Unmarshal([]byte(out), &plan); err != nil || !plan.Applied {
		t.Fatalf("reload plan %q: %v", out, err)
	}
	after := s.waitFor("added", "running", func(x api.Service) bool { return x.State == "running" })
	if after.Pid == 0 {
		t.Errorf("added service: %+v", after)
	}
	changed := s.waitFor("change", "restarted", func(x api.Service) bool { return x.State == "running" && x.Pid != before["change"] })
	if alive(before["change"]) {
		t.Errorf("old incarnation of the changed service (pid %d) still alive", before["change"])
	}
	if env := environOf(t, changed.Pid, "sleep 2"+m); !strings.Contains(env, "\x00A=2\x00") {
		t.Error("changed service does not run with A=2")
	}
	if k := s.service("keep"); k.Pid != before["keep"] {
		t.Errorf("untouched service changed pid: %d -> %d", before["keep"], k.Pid)
	}
	waitNone(t, "sleep 3"+m)
	waitNone(t, "sleep 4"+m)
	if _, _, code := s.run("status", "gone"); code != 2 {
		t.Errorf("status of a removed service: exit %d, want 2", code)
	}

	// A config with an unknown key changes nothing and says where the error is.
	bad := v2 + "  broken:\n    command: sleep 1\n    bogus: 1\n"
	if err := os.WriteFile(s.config, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = s.run("reload")
	if code != 2 || !strings.Contains(stderr, s.config+":9:5:") || !strings.Contains(stderr, "bogus") {
		t.Errorf("bad reload: exit %d, stderr %q", code, stderr)
	}
	for _, svc := range s.status().Services {
		want := before[svc.Name]
		switch svc.Name {
		case "change":
			want = changed.Pid
		case "added":
			want = after.Pid
		}
		if svc.Pid != want {
			t.Errorf("failed reload changed %s: pid %d, want %d", svc.Name, svc.Pid, want)
		}
	}

	// SIGHUP reloads too.
	v3 := v2 + "  hup: {command: sleep 6" + m + "}\n"
	if err := os.WriteFile(s.config, []byte(v3), 0o644); err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitFor("hup", "running", func(x api.Service) bool { return x.State == "running" })
	// and touches nothing else.
	if k := s.service("keep"); k.State != "running" || k.Pid != before["keep"] {
		t.Errorf("SIGHUP reload disturbed an unchanged service: %+v (pid before %d)", k, before["keep"])
	}
}

func TestSignalAndWhy(t *testing.T) {
	t.Parallel()
	m := marker(t)
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  hupper:
    command: ["sh", "-c", "trap 'echo got hup' HUP; while :; do sleep 7%[1]s & wait $!; done"]
  crasher:
    command: ["sh", "-c", "echo starting up; sleep 0.1; echo 'fatal: cannot open /data/db' >&2; exit 3"]
    restart: {backoff: {initial: 50ms, jitter: 0}, limit: {burst: 3, window: 1m}, cooldown: 0}
`, m))
	s.waitFor("hupper", "running", func(x api.Service) bool { return x.State == "running" })
	waitCount(t, "sleep 7"+m, 1)
	out, stderr, code := s.run("signal", "HUP", "hupper")
	if code != 0 || !strings.Contains(out, "hupper: signalled") {
		t.Fatalf("signal: exit %d %q %q", code, out, stderr)
	}
	if _, stderr, code := s.run("signal", "NOPE", "hupper"); code != 2 || !strings.Contains(stderr, "invalid signal") {
		t.Errorf("bad signal: exit %d %q", code, stderr)
	}
	if _, _, code := s.run("signal", "TERM", "nope"); code != 2 {
		t.Errorf("signal to an unknown service: exit %d, want 2", code)
	}

	s.waitFor("crasher", "failed", func(x api.Service) bool { return x.State == "failed" })
	out, stderr, code = s.run("why", "crasher")
	if code != 0 {
		t.Fatalf("why: exit %d %s", code, stderr)
	}
	// The last lines of each run are filed once its output is drained.
	for end := time.Now().Add(deadline); !strings.Contains(out, "! fatal: cannot open /data/db") && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
		out, _, _ = s.run("why", "crasher")
	}
	for _, want := range []string{"crasher: gave up", "start limit", "exit 3", "recent exits", "3 of 3 starts", "| starting up", "! fatal: cannot open /data/db"} {
		if !strings.Contains(out, want) {
			t.Errorf("why lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = s.run("why", "crasher", "-o", "json")
	var w api.Why
	if err := json.Unmarshal([]byte(out), &w); err != nil {
		t.Fatalf("why json: %v\n%s", err, out)
	}
	if len(w.Exits) != 3 || w.Exits[2].ExitCode == nil || *w.Exits[2].ExitCode != 3 || w.Burst != 3 {
		t.Errorf("why json: %+v", w)
	} else if ll := w.Exits[2].LastLines; len(ll) != 2 || ll[1].Stream != "stderr" || ll[1].Line != "fatal: cannot open /data/db" {
		t.Errorf("last lines of the last run: %+v", ll)
	}
	if _, _, code := s.run("why", "nope"); code != 2 {
		t.Errorf("why nope: exit %d, want 2", code)
	}
}

// A reload that fails while building its new services leaves nothing of
// those built before the failure: no notify socket, no open log.
func TestFailedReloadReleasesWhatItBuilt(t *testing.T) {
	t.Parallel()
	base := "version: 1\nservices:\n  keep:\n    command: sleep 1000\n"
	s := startSup(t, base)
	s.waitFor("keep", "running", func(v api.Service) bool { return v.State == "running" })
	// b's log is a symlink: the keeper refuses to open it, after a was built.
	stateDir := filepath.Join(s.dir, ".respawn")
	if err := os.Symlink(filepath.Join(s.dir, "elsewhere"), filepath.Join(stateDir, "logs", "b.log")); err != nil {
		t.Fatal(err)
	}
	next := base + "  a:\n    command: sleep 1000\n    ready: {notify: true}\n  b:\n    command: sleep 1000\n"
	if err := os.WriteFile(s.config, []byte(next), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := s.run("reload"); code == 0 {
		t.Fatalf("reload with b's log planted: exit 0, stderr %q", stderr)
	}
	if _, err := os.Lstat(filepath.Join(stateDir, "notify", "a.sock")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a's notify socket after the failed reload: %v, want it gone", err)
	}
	if _, err := os.Lstat(filepath.Join(s.dir, "elsewhere")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the planted log's target was created: %v", err)
	}
	if st := s.status(); len(st.Services) != 1 {
		t.Errorf("services after the failed reload: %+v", st.Services)
	}
}
