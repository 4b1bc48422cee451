//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// waitLogs polls `respawn logs ARGS...` until its output contains want.
func (s *sup) waitLogs(want string, args ...string) string {
	s.t.Helper()
	end := time.Now().Add(deadline)
	var out, errs string
	for time.Now().Before(end) {
		var code int
		out, errs, code = s.run(append([]string{"logs"}, args...)...)
		if code == 0 && strings.Contains(out, want) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("logs %v never showed %q; last output %q, stderr %q", args, want, out, errs)
	return ""
}

func TestLogsLastLinesAndMultiplexing(t *testing.T) {
	t.Parallel()
	m := marker(t)
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  counter:
    command: ["sh", "-c", "i=1; while [ $i -le 10 ]; do echo n$i; i=$((i+1)); done; exec sleep 11%[1]s"]
  errs:
    command: ["sh", "-c", "echo to stdout; echo to stderr >&2; exec sleep 12%[1]s"]
`, m))
	s.waitLogs("n10", "counter")
	s.waitLogs("to stderr", "errs")

	out, errs, code := s.run("logs", "-n", "3", "counter")
	if want := "counter | n8\ncounter | n9\ncounter | n10\n"; code != 0 || out != want {
		t.Errorf("logs -n 3 counter: exit %d, %q (stderr %q), want %q", code, out, errs, want)
	}

	// Both services, with their name prefixes padded alike; stderr marked with "!".
	out, errs, code = s.run("logs")
	if code != 0 {
		t.Fatalf("logs: exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 12 {
		t.Errorf("logs: %d lines, want 12:\n%s", len(lines), out)
	}
	for _, want := range []string{"counter | n1\n", "counter | n10\n", "errs    | to stdout\n", "errs    ! to stderr\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs: no %q in\n%s", want, out)
		}
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "counter | ") && !strings.HasPrefix(l, "errs    | ") && !strings.HasPrefix(l, "errs    ! ") {
			t.Errorf("line without a service prefix: %q", l)
		}
		if strings.Contains(l, "\x1b[") {
			t.Errorf("coloured although not a terminal: %q", l)
		}
	}
	// Each service's own lines keep their order in the merge.
	if i, j := strings.Index(out, "counter | n1\n"), strings.Index(out, "counter | n10\n"); i > j {
		t.Errorf("counter's lines out of order:\n%s", out)
	}

	out, errs, code = s.run("logs", "-o", "json", "errs", "counter")
	if code != 0 {
		t.Fatalf("logs -o json: exit %d: %s", code, errs)
	}
	seen := map[string]int{}
	for l := range strings.SplitSeq(strings.TrimSuffix(out, "\n"), "\n") {
		var ll api.LogLine
		if err := json.Unmarshal([]byte(l), &ll); err != nil {
			t.Fatalf("-o json line %q: %v", l, err)
		}
		if ll.Time.IsZero() || ll.Line == "" || (ll.Stream != "stdout" && ll.Stream != "stderr") {
			t.Errorf("-o json line %+v", ll)
		}
		seen[ll.Service+"/"+ll.Stream]++
	}
	if seen["counter/stdout"] != 10 || seen["errs/stdout"] != 1 || seen["errs/stderr"] != 1 || len(seen) != 3 {
		t.Errorf("-o json lines by service and stream: %v", seen)
	}

	if _, errs, code := s.run("logs", "nope"); code != 2 || !strings.Contains(errs, "nope") {
		t.Errorf("logs nope: exit %d, %q; want 2 naming it", code, errs)
	}
}

func TestLogsFollowAcrossRestartsAndRotation(t *testing.T) {
	t.Parallel()
	m := marker(t)
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	// Each run prints 100 numbered lines, more than a log file may hold: every run
	// rotates the file at least once.
	s := startSup(t, fmt.Sprintf(`
version: 1
services:
  chatty:
    command: ["sh", "-c", "n=$(cat %[2]s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[2]s; i=1; while [ $i -le 100 ]; do echo run $n line $i; i=$((i+1)); done; exec sleep 13%[1]s"]
    logs: {max_size: 2KB, max_files: 50}
`, m, runs))
	s.waitLogs("run 1 line 100", "chatty", "-n", "1")

	f := exec.Command(bin, "logs", "-f", "-n", "1", "chatty", "-c", s.config)
	f.Dir = s.dir
	stdout, err := f.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	f.Stderr = &stderr
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Process.Kill() })
	lines := make(chan string, 1000)
	waited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		io.Copy(io.Discard, stdout)
		close(lines)
		// Wait closes the pipe, so only once it is read to its end.
		waited <- f.Wait()
	}()
	expect := func(want ...string) {
		t.Helper()
		timeout := time.After(deadline)
		for _, w := range want {
			select {
			case got, ok := <-lines:
				if !ok {
					t.Fatalf("logs -f ended before %q; stderr %q", w, stderr.String())
				}
				if got != w {
					t.Fatalf("logs -f printed %q, want %q", got, w)
				}
			case <-timeout:
				t.Fatalf("logs -f did not print %q within %s", w, deadline)
			}
		}
	}
	// The history line shows the follow is in place before anything else happens.
	expect("chatty | run 1 line 100")
	for run := 2; run <= 3; run++ {
		if _, errs, code := s.run("restart", "chatty"); code != 0 {
			t.Fatalf("restart: exit %d: %s", code, errs)
		}
		var want []string
		for i := 1; i <= 100; i++ {
			want = append(want, fmt.Sprintf("chatty | run %d line %d", run, i))
		}
		expect(want...)
	}
	if countLines(t, filepath.Join(s.dir, ".respawn", "logs", "chatty.log.2")) == 0 {
		t.Error("the log never rotated: the test did not test rotation")
	}
	// Interrupted, -f ends cleanly.
	if err := f.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("logs -f after SIGINT: %v; stderr %q", err, stderr.String())
		}
	case <-time.After(deadline):
		t.Fatal("logs -f did not end on SIGINT")
	}
}
