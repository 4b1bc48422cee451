//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// journalEvents runs `events -o json` and parses its output line by line.
func (s *sup) journalEvents(args ...string) []api.Event {
	s.t.Helper()
	out, errs, code := s.run(append([]string{"events", "-o", "json"}, args...)...)
	if code != 0 {
		s.t.Fatalf("events: exit %d: %s", code, errs)
	}
	var evs []api.Event
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var e api.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			s.t.Fatalf("events -o json: line %q is not one JSON object: %v", line, err)
		}
		evs = append(evs, e)
	}
	return evs
}

// journalMissing names which of the wanted kinds of events are still missing.
func journalMissing(evs []api.Event, want map[string]func(api.Event) bool) []string {
	var missing []string
	for what, match := range want {
		found := false
		for _, e := range evs {
			if match(e) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, what)
		}
	}
	return missing
}

func TestEventsRecordsWhatHappened(t *testing.T) {
	t.Parallel()
	s := startSup(t, `
version: 1
services:
  crasher:
    command: ["sh", "-c", "echo about to fail; exit 3"]
    restart:
      backoff: {initial: 50ms, max: 1s, factor: 2, jitter: 0}
      limit: {burst: 100, window: 1m}
`)
	s.waitFor("crasher", "restarted twice", func(x api.Service) bool { return x.Restarts >= 2 })
	if _, errs, code := s.run("stop", "crasher"); code != 0 {
		t.Fatalf("stop: exit %d: %s", code, errs)
	}
	want := map[string]func(api.Event) bool{
		"a supervisor event": func(e api.Event) bool { return e.Type == api.EventSupervisor && e.Service == "" },
		"a state change with from and to": func(e api.Event) bool {
			return e.Type == api.EventState && e.Service == "crasher" && e.From != "" && e.To != ""
		},
		"an exit with its code": func(e api.Event) bool {
			return e.Type == api.EventExit && e.Service == "crasher" && e.ExitCode != nil && *e.ExitCode == 3
		},
		"a respawn decision with delay and attempt": func(e api.Event) bool {
			return e.Type == api.EventRespawn && e.Service == "crasher" && e.DelayMS > 0 && e.Attempt > 0
		},
		"the stop command with the caller's uid and pid": func(e api.Event) bool {
			return e.Type == api.EventCommand && e.Command == "stop" && e.UID != nil && *e.UID == syscall.Getuid() &&
				e.CallerPid > 0 && strings.Join(e.Args, " ") == "crasher"
		},
		"the state change to stopped": func(e api.Event) bool {
			return e.Type == api.EventState && e.Service == "crasher" && e.To == "stopped"
		},
	}
	var evs []api.Event
	var missing []string
	for end := time.Now().Add(deadline); ; {
		evs = s.journalEvents()
		if missing = journalMissing(evs, want); len(missing) == 0 || time.Now().After(end) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Fatalf("the journal lacks %s; it holds %d events:\n%s", strings.Join(missing, "; "), len(evs), dumpEvents(evs))
	}
	for i, e := range evs {
		if e.Time.IsZero() || (i > 0 && e.Time.Before(evs[i-1].Time)) {
			t.Errorf("event %d (%s) has time %v: events must be timed and oldest first", i, e.Type, e.Time)
		}
	}

	// -n keeps the last N; --since in the future keeps nothing.
	if last := s.journalEvents("-n", "2"); len(last) != 2 || !sameEvent(last[1], evs[len(evs)-1]) {
		t.Errorf("events -n 2: got %d events, want the last 2 of %d", len(last), len(evs))
	}
	// The table form names the command and who sent it.
	out, errs, code := s.run("events")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("stop crasher by uid %d", syscall.Getuid())) {
		t.Errorf("events (table): exit %d, stderr %s, output:\n%s", code, errs, out)
	}
	if _, errs, code := s.run("events", "--since", "soon"); code != 2 {
		t.Errorf("events --since soon: exit %d (%s), want 2", code, errs)
	}
}

func sameEvent(a, b api.Event) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func dumpEvents(evs []api.Event) string {
	var b strings.Builder
	for _, e := range evs {
		j, _ := json.Marshal(e)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestEventsFollowPrintsNewEvents(t *testing.T) {
	t.Parallel()
	m := marker(t)
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  sleeper:
    command: ["sleep", "%s"]
`, m))
	s.waitFor("sleeper", "running", func(x api.Service) bool { return x.State == "running" })

	follow := exec.Command(bin, "events", "-f", "-n", "1", "-o", "json", "-c", s.config)
	follow.Dir = s.dir
	stdout, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	follow.Stderr = &stderr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- follow.Wait()
	}()
	t.Cleanup(func() {
		follow.Process.Kill()
		for range lines {
		}
	})
	nextLine := func(what string) (api.Event, bool) {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("events -f ended while waiting for %s: %s", what, stderr.String())
			}
			var e api.Event
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("events -f printed %q: %v", l, err)
			}
			return e, true
		case <-time.After(deadline):
			t.Fatalf("events -f printed nothing for %s while waiting for %s; stderr: %s", deadline, what, stderr.String())
		}
		return api.Event{}, false
	}
	// The one stored event shows the follower is connected and subscribed.
	nextLine("the last stored event")

	if _, errs, code := s.run("restart", "sleeper"); code != 0 {
		t.Fatalf("restart: exit %d: %s", code, errs)
	}
	for {
		e, _ := nextLine("the restart command")
		if e.Type == api.EventCommand && e.Command == "restart" {
			break
		}
	}
	// An interrupt ends the follower cleanly.
	if err := follow.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("events -f after SIGINT: %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(deadline):
		t.Fatal("events -f did not end on SIGINT")
	}
}
