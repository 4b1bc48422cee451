package daemon

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestConsoleLines(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(newConsoleHandler(&b, slog.LevelInfo)).With("core", 4242)
	log.Warn("state", "service", "worker", "gen", 3, "from", "running", "to", "backoff", "event", "exit-restart",
		"exit_code", 1, "next_retry", "2026-12-04T06:08:33Z", "reason", "exit status 1, restart 1 in 533ms")
	log.Info("state", "service", "web", "from", "starting", "to", "running", "pid", 77)
	log.Error("start core", "err", errors.New("fork: no memory"))
	log.Debug("hidden")
	log.WithGroup("http").Info("listener", "addr", "127.0.0.1:9180", "note", `say "hi"`)
	log.Info("state", "from", "a") // not a whole state change: as is
	want := []string{
		"respawn: WARN worker running → backoff: exit status 1, restart 1 in 533ms",
		"respawn: web starting → running pid=77",
		`respawn: ERROR start core err="fork: no memory"`,
		`respawn: listener http.addr=127.0.0.1:9180 http.note="say \"hi\""`,
		"respawn: state from=a",
	}
	if got := strings.Split(strings.TrimSpace(b.String()), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
