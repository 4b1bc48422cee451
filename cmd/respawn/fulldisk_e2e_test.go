//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// fillDisk writes a file in dir until the file system is full and returns its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			return path
		}
	}
}

// waitUntil polls cond until it holds or the deadline passes, and returns how long it took.
func waitUntil(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > deadline {
			t.Fatalf("%s: not within %s", what, deadline)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// fileHas reports whether the file at path holds s after its first from bytes.
func fileHas(path string, from int64, s string) bool {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < from {
		return false
	}
	return bytes.Contains(b[from:], []byte(s))
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestFullDiskThenFreedEveryLogResumes(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", state, "tmpfs", 0, "size=2m,mode=0700"); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(state, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", state, err)
		}
	})
	path := filepath.Join(dir, "respawn.yaml")
	m := marker(t)
	cfg := `
version: 1
supervisor: {state_dir: ./state}
services:
`
	names := []string{"alpha", "beta"}
	for _, n := range names {
		cfg += fmt.Sprintf("  %s: {command: [sh, -c, 'i=0; while :; do i=$((i+1)); echo %s line $i; sleep 0.02; done; : %s']}\n", n, n, m)
	}
	// A crash loop fills the supervisor's log, the way it fills disks.
	cfg += fmt.Sprintf("  crasher: {command: [sh, -c, 'sleep 0.05; exit 1; : %s'], restart: {backoff: {initial: 10ms, max: 10ms}, limit: {burst: 0}}}\n", m)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	supLog := filepath.Join(state, "respawn.log")
	t.Cleanup(func() {
		runRespawn(dir, "down", "-c", path)
		waitNone(t, m)
		if t.Failed() {
			b, _ := os.ReadFile(supLog)
			t.Logf("supervisor log:\n%s", b)
		}
	})
	if _, errs, code := runRespawn(dir, "up", "-d", "-c", path); code != 0 {
		t.Fatalf("up -d: exit %d: %s", code, errs)
	}
	logOf := func(name string) string { return filepath.Join(state, "logs", name+".log") }
	for _, n := range names {
		waitUntil(t, n+" writes its log", func() bool { return countLines(t, logOf(n)) > 0 })
	}

	filler := fillDisk(t, state)
	waitUntil(t, "every service's log drops lines, and the supervisor's", func() bool {
		st := detachedStatus(t, dir, path)
		for _, s := range st.Services {
			if s.LogDropped == 0 && s.Name != "crasher" { // it prints nothing
				return false
			}
		}
		return st.Supervisor.LogDropped > 0
	})
	sizes := map[string]int64{}
	for _, n := range names {
		sizes[n] = fileSize(t, logOf(n))
	}
	supFrom := fileSize(t, supLog)
	freed := time.Now()
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := runRespawn(dir, "reload", "-c", path); code != 0 {
		t.Fatalf("reload after the disk was freed: exit %d: %s", code, errs)
	}
	// Writers retry on every write: resuming takes well under a second on an idle
	// machine (tens of ms measured). The bound allows for a loaded one, yet fails
	// a writer that retries on a timer of its own.
	const resumeBound = 5 * time.Second
	resumedIn := func(what string) {
		d := time.Since(freed)
		t.Logf("%s resumed %s after the disk was freed", what, d.Round(time.Millisecond))
		if d > resumeBound {
			t.Errorf("%s resumed %s after the disk was freed, want within %s", what, d.Round(time.Millisecond), resumeBound)
		}
	}
	for _, n := range names {
		waitUntil(t, n+"'s log resumes", func() bool { return fileHas(logOf(n), sizes[n], n+" line ") })
		resumedIn(n + "'s log")
	}
	waitUntil(t, "the supervisor's log has the core's reload line", func() bool { return fileHas(supLog, supFrom, "reloading") })
	resumedIn("the supervisor's log")

	st := detachedStatus(t, dir, path)
	for _, s := range st.Services {
		if s.Name == "crasher" {
			continue
		}
		if s.LogDropped == 0 {
			t.Errorf("%s: log_dropped = 0 after its log dropped lines", s.Name)
		}
		if s.Pid == 0 || s.Restarts != 0 {
			t.Errorf("%s: pid %d, %d restarts: services must run on untouched", s.Name, s.Pid, s.Restarts)
		}
	}
	if st.Supervisor.LogDropped == 0 || st.Supervisor.CoreRestarts != 0 {
		t.Errorf("supervisor: log_dropped %d, core_restarts %d; want > 0 and 0", st.Supervisor.LogDropped, st.Supervisor.CoreRestarts)
	}

	// The journal: whole events only, and the reload after the disk was freed.
	var evs []api.Event
	waitUntil(t, "the reload after recovery in the journal", func() bool {
		evs = journalEvents(t, filepath.Join(state, "events.jsonl"))
		for _, e := range evs {
			if strings.HasPrefix(e.Message, "reload:") && !e.Time.Before(freed) {
				return true
			}
		}
		return false
	})
	resumed := map[string]bool{}
	for _, e := range evs {
		if e.Type == api.EventLog && e.Reason == "log writes resumed" {
			resumed[e.Service] = true
		}
	}
	for _, n := range names {
		if !resumed[n] {
			t.Errorf("no event says %s's log resumed; events:\n%+v", n, evs)
		}
	}
}

// journalEvents parses every line of the journal, failing on one that is not an event.
func journalEvents(t *testing.T, path string) []api.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []api.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e api.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s line %d is not an event (%v): %.100q", path, len(evs)+1, err, sc.Text())
		}
		evs = append(evs, e)
	}
	return evs
}

func TestSupervisorLogRotates(t *testing.T) {
	t.Parallel()
	dir, path := detached(t, `
version: 1
supervisor:
  log: {max_size: 2KB, max_files: 2}
services:
  idle: {command: [sleep, "3600"]}
`)
	if _, errs, code := runRespawn(dir, "up", "-d", "-c", path); code != 0 {
		t.Fatalf("up -d: exit %d: %s", code, errs)
	}
	supLog := filepath.Join(dir, ".respawn", "respawn.log")
	// Each reload puts a line of the core's in the log.
	waitUntil(t, "respawn.log rotated twice", func() bool {
		if _, errs, code := runRespawn(dir, "reload", "-c", path); code != 0 {
			t.Fatalf("reload: exit %d: %s", code, errs)
		}
		_, err := os.Stat(supLog + ".2")
		return err == nil
	})
	for _, p := range []string{supLog, supLog + ".1", supLog + ".2"} {
		if n := fileSize(t, p); n > 2000 {
			t.Errorf("%s holds %d bytes, more than max_size 2KB", p, n)
		}
	}
	if _, err := os.Stat(supLog + ".3"); err == nil {
		t.Errorf("%s.3 kept beyond max_files 2", supLog)
	}
	// The live file is the one written: a reload's line lands there.
	from := fileSize(t, supLog)
	if _, errs, code := runRespawn(dir, "reload", "-c", path); code != 0 {
		t.Fatalf("reload: exit %d: %s", code, errs)
	}
	waitUntil(t, "the next reload line in the live respawn.log", func() bool {
		if fileSize(t, supLog) < from {
			from = 0 // it rotated meanwhile
		}
		return fileHas(supLog, from, "reloading")
	})
}
