//go:build linux

package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// TestImporterSupervisordRunsAsSupervisordWould imports a supervisord.conf
// and runs it: the processes it names, restarted for the exit codes
// supervisord would restart.
func TestImporterSupervisordRunsAsSupervisordWould(t *testing.T) {
	t.Parallel()
	m := marker(t)
	dir := t.TempDir()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	// %(here)s/sleeper is sleep under a path of this test's own.
	if err := os.Symlink(sleep, filepath.Join(dir, "conf.d", "sleeper")); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"supervisord.conf": `[supervisord]
nodaemon=true

[include]
files = conf.d/*.conf
` + exitProgram("ok", 0) + exitProgram("two", 2) + exitProgram("one", 1),
		"conf.d/sleepers.conf": fmt.Sprintf(`[program:sleeper]
command=%%(here)s/sleeper 9%s%%(process_num)d
process_name=%%(program_name)s_%%(process_num)d
numprocs=2
stopasgroup=true
killasgroup=true
`, m),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, notes, code := runRespawn(dir, "import", "supervisord", "supervisord.conf", "-o", "respawn.yaml")
	if code != 0 {
		t.Fatalf("import exit %d: %s", code, notes)
	}
	for _, want := range []string{"[supervisord] nodaemon: not carried over", "program:one: stopasgroup=false"} {
		if !strings.Contains(notes, want) {
			t.Errorf("stderr lacks %q:\n%s", want, notes)
		}
	}
	if strings.Contains(notes, "program:sleeper: stopasgroup") {
		t.Errorf("stopasgroup=true noted as a change:\n%s", notes)
	}
	if _, errs, code := runRespawn(dir, "import", "supervisord", "supervisord.conf", "-o", "respawn.yaml"); code != 2 || !strings.Contains(errs, "--force") {
		t.Errorf("a second import over respawn.yaml: exit %d, %s", code, errs)
	}
	if out, errs, code := runRespawn(dir, "check", "-c", "respawn.yaml"); code != 0 {
		t.Fatalf("check exit %d: %s%s", code, out, errs)
	}
	yml, err := os.ReadFile(filepath.Join(dir, "respawn.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := startSup(t, string(yml))
	if n := len(s.status().Services); n != 5 {
		t.Fatalf("%d services, want 5: %+v", n, s.status().Services)
	}
	for i := range 2 {
		s.waitFor(fmt.Sprintf("sleeper_%d", i), "running", func(v api.Service) bool { return v.State == "running" })
		if pids := procsWith(fmt.Sprintf("%s 9%s%d", filepath.Join(dir, "conf.d", "sleeper"), m, i)); len(pids) != 1 {
			t.Errorf("sleeper_%d: %d processes, want 1", i, len(pids))
		}
	}
	// Exit 1 is unexpected: restarted. Exits 0 and 2 are expected: by the
	// time one has been restarted twice, they would have been too.
	s.waitFor("one", "restarted twice", func(v api.Service) bool { return v.Restarts >= 2 })
	for name, want := range map[string]int{"ok": 0, "two": 2} {
		v := s.waitFor(name, "exited", func(v api.Service) bool { return v.State == "exited" })
		if v.Restarts != 0 || v.ExitCode == nil || *v.ExitCode != want {
			t.Errorf("%s: %+v, want exited %d and never restarted", name, v, want)
		}
	}
}

// exitProgram is a [program:x] that exits with code at once; startsecs=0
// so that supervisord too judges the exit by exitcodes alone.
func exitProgram(name string, code int) string {
	return fmt.Sprintf(`
[program:%s]
command=sh -c "exit %d"
autorestart=unexpected
exitcodes=0,2
startsecs=0
`, name, code)
}

// TestImporterProcfileServesAndReadsDotEnv imports a Procfile and its .env
// and runs them as foreman would: web on its PORT, worker with .env's values.
func TestImporterProcfileServesAndReadsDotEnv(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 for the web process")
	}
	m := marker(t)
	port := 5000
	if l, err := net.Listen("tcp", "127.0.0.1:5000"); err != nil {
		port = freePort(t)
	} else {
		l.Close()
	}
	dir := t.TempDir()
	files := map[string]string{
		"Procfile": "web: python3 -m http.server $PORT --bind 127.0.0.1\nworker: sh -c 'echo $GREETING; sleep 1000" + m + "'\n",
		".env":     "GREETING=hello-from-dotenv-" + m + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	yml, notes, code := runRespawn(dir, "import", "procfile", "Procfile", "--port-base", strconv.Itoa(port))
	if code != 0 {
		t.Fatalf("import exit %d: %s", code, notes)
	}
	if !strings.Contains(notes, "respawn restarts the one that exited") {
		t.Errorf("stderr does not say how exits differ:\n%s", notes)
	}
	s := startSup(t, yml)
	s.waitFor("web", "running", func(v api.Service) bool { return v.State == "running" })
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	var resp *http.Response
	var err error
	for end := time.Now().Add(deadline); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if resp, err = http.Get(url); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("web never answered on %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", url, resp.Status)
	}
	for end := time.Now().Add(deadline); ; time.Sleep(50 * time.Millisecond) {
		out, _, _ := s.run("logs", "worker")
		if strings.Contains(out, "hello-from-dotenv-"+m) {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("worker never printed the .env value; its log:\n%s", out)
		}
	}
}

// TestImporterProcessComposeAndPm2Run imports a process-compose file and a
// pm2 ecosystem and runs what they became: each service prints what it
// printed under its own supervisor, in the order its dependencies ask.
func TestImporterProcessComposeAndPm2Run(t *testing.T) {
	t.Parallel()
	m := marker(t)
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready-"+m)
	compose := fmt.Sprintf(`version: "0.5"
processes:
  db:
    command: "echo db up %[1]s; touch %[2]s; exec sleep 71%[1]s"
    readiness_probe:
      exec:
        command: "test -f %[2]s"
      period_seconds: 1
  api:
    command: "test -f %[2]s && echo api says $GREETING; exec sleep 72%[1]s"
    environment:
      - "GREETING=hello-%[1]s"
    depends_on:
      db:
        condition: process_healthy
`, m, ready)
	pm2 := fmt.Sprintf(`{"apps": [{"name": "worker", "script": "/bin/sh", "interpreter": "none",
  "args": ["-c", "echo worker says $GREETING; exec sleep 73%[1]s"], "env": {"GREETING": "hi-%[1]s"}}]}`, m)
	for name, content := range map[string]string{"process-compose.yaml": compose, "ecosystem.json": pm2} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		format, file string
		wants        map[string]string // service → a line it prints
	}{
		{"process-compose", "process-compose.yaml", map[string]string{"db": "db up " + m, "api": "api says hello-" + m}},
		{"pm2", "ecosystem.json", map[string]string{"worker": "worker says hi-" + m}},
	} {
		sub := filepath.Join(dir, c.format)
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		_, notes, code := runRespawn(dir, "import", c.format, c.file, "-o", filepath.Join(sub, "respawn.yaml"))
		if code != 0 {
			t.Fatalf("import %s: exit %d: %s", c.format, code, notes)
		}
		yml, err := os.ReadFile(filepath.Join(sub, "respawn.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if out, errs, code := runRespawn(sub, "check", "-c", "respawn.yaml"); code != 0 {
			t.Fatalf("check of the %s import: exit %d: %s%s\n%s", c.format, code, out, errs, yml)
		}
		s := startSupIn(t, sub, string(yml))
		for svc, line := range c.wants {
			s.waitLogs(line, svc)
		}
	}
}
