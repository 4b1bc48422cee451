package alerts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
)

func writeScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "notify.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// A real script gets the alert as JSON on stdin and as RESPAWN_* variables.
func TestExecSender(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	script := writeScript(t, `cat >"$1.json"
env | grep '^RESPAWN_' | sort >"$1.env"
`)
	send := execSender(&config.ExecAlert{Command: []string{script, out}, Timeout: 5 * time.Second}, []string{"PATH=" + os.Getenv("PATH"), "RESPAWN_SERVICE=stale", "RESPAWN_KEEPER_SOCKET=/x"})
	a := testAlert()
	a.Restarts = 4
	if tries, err := send(t.Context(), a); err != nil || tries != 1 {
		t.Fatalf("send = %d, %v", tries, err)
	}
	data, err := os.ReadFile(out + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var got api.Alert
	if err := json.Unmarshal(data, &got); err != nil || got.Service != "db" || got.Rule != "r" || got.Restarts != 4 || !got.Time.Equal(a.Time) {
		t.Errorf("stdin = %s (%v)", data, err)
	}
	env, err := os.ReadFile(out + ".env")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"RESPAWN_EVENT=failed",
		"RESPAWN_HOST=h",
		"RESPAWN_MESSAGE=db entered failed: exit status 1",
		"RESPAWN_RESTARTS=4",
		"RESPAWN_RULE=r",
		"RESPAWN_SERVICE=db",
		"RESPAWN_TIME=" + a.Time.Format(time.RFC3339Nano),
	}
	if got := strings.Split(strings.TrimSpace(string(env)), "\n"); !slices.Equal(got, want) {
		t.Errorf("env:\n%q\nwant\n%q", got, want)
	}
}

func TestExecSenderFailures(t *testing.T) {
	fails := writeScript(t, "echo 'no route to pager' >&2\nexit 3\n")
	_, err := execSender(&config.ExecAlert{Command: []string{fails}, Timeout: 5 * time.Second}, nil)(t.Context(), testAlert())
	if err == nil || !strings.Contains(err.Error(), "exit status 3: no route to pager") {
		t.Errorf("failing script: %v", err)
	}
	// The timeout kills the command, even one whose child holds its output.
	pidfile := filepath.Join(t.TempDir(), "child.pid")
	hangs := writeScript(t, "sleep 30 &\necho $! >"+pidfile+"\nsleep 30\n")
	start := time.Now()
	_, err = execSender(&config.ExecAlert{Command: []string{hangs}, Timeout: 200 * time.Millisecond}, nil)(t.Context(), testAlert())
	if err == nil || !strings.Contains(err.Error(), "killed after the timeout of 200ms") {
		t.Errorf("hanging script: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s", took)
	}
	// The script's child went with it.
	pid, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(strings.TrimSpace(string(pid))) {
		if time.Now().After(deadline) {
			t.Fatalf("the script's child %s outlived the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond) // polling a state the kernel holds, with a deadline
	}
	_, err = execSender(&config.ExecAlert{Command: []string{filepath.Join(t.TempDir(), "missing")}, Timeout: time.Second}, nil)(t.Context(), testAlert())
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing command: %v", err)
	}
}

// alive reports whether the process is there and not a zombie.
func alive(pid string) bool {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}
