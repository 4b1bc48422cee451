package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// respawnPeer runs `respawn up` with a generated config.
type respawnPeer struct {
	bin string
	// http, when set, is where the HTTP listener (API and dashboard)
	// listens, with the token in the file uiToken in the run's folder.
	http string
}

func (respawnPeer) name() string   { return "respawn" }
func (respawnPeer) prefixed() bool { return true }

func (respawnPeer) logPath(dir, svc string) (string, string) {
	return filepath.Join(dir, "state", "logs", svc+".log"), ""
}

func (respawnPeer) own(root int) ([]int, error) { return ownProcesses(root) }

func (respawnPeer) pause() time.Duration { return 0 }

func (p respawnPeer) status(dir string, names []string, all bool) [][]string {
	argv := []string{p.bin, "status", "-c", filepath.Join(dir, "respawn.yaml")}
	if !all {
		argv = append(argv, names...)
	}
	return [][]string{argv}
}

func (p respawnPeer) launch(dir string, svcs []service) (*instance, error) {
	cfg := filepath.Join(dir, "respawn.yaml")
	text := respawnConfig(dir, svcs)
	if p.http != "" {
		tok := filepath.Join(dir, uiToken)
		// 32 random bytes, as `check` suggests; the file must be 0600.
		if err := os.WriteFile(tok, []byte(randomToken()), 0o600); err != nil {
			return nil, fmt.Errorf("write token: %w", err)
		}
		text = strings.Replace(text, "supervisor:\n", fmt.Sprintf("supervisor:\n  http: {listen: %q, token_file: %q}\n", p.http, tok), 1)
	}
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return nil, fmt.Errorf("write respawn config: %w", err)
	}
	return start(dir, "respawn", []string{p.bin, "up", "--no-output", "-c", cfg})
}

// respawnConfig asks for the fastest respawn respawn offers: no backoff and
// no start limit.
func respawnConfig(dir string, svcs []service) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nsupervisor:\n  state_dir: %s\n  log: {level: warn}\n", strconv.Quote(filepath.Join(dir, "state")))
	b.WriteString("defaults:\n  restart: {policy: always, backoff: {initial: 0, max: 0, jitter: 0}, limit: {burst: 0}}\n")
	b.WriteString("services:\n")
	for _, s := range svcs {
		args := make([]string, len(s.argv))
		for i, a := range s.argv {
			args[i] = strconv.Quote(a)
		}
		fmt.Fprintf(&b, "  %s: {command: [%s]", s.name, strings.Join(args, ", "))
		if !s.restart {
			b.WriteString(", restart: {policy: never}")
		}
		if s.bigLog {
			b.WriteString(", logs: {max_size: 1GB}")
		}
		b.WriteString("}\n")
	}
	return b.String()
}
