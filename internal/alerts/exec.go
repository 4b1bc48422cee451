package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
)

// maxOutput bounds what is kept of an exec destination's output for the
// error message: its last words say why it failed.
const maxOutput = 2 << 10

// execSender runs the command with the alert as JSON on stdin and as
// RESPAWN_* variables. It runs in the core, not under the keeper: it is a
// short-lived helper of the core, like an HTTP request, not a service.
func execSender(c *config.ExecAlert, environ []string) func(context.Context, api.Alert) (int, error) {
	// The supervisor's own RESPAWN_* variables (its keeper's socket, a
	// RESPAWN_SERVICE it was started with) would read as the alert's.
	var base []string
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "RESPAWN_") {
			base = append(base, kv)
		}
	}
	base = slices.Clip(base)
	return func(ctx context.Context, a api.Alert) (int, error) {
		body, err := json.Marshal(a)
		if err != nil {
			return 0, fmt.Errorf("encode alert: %w", err)
		}
		ctx, cancel := context.WithTimeout(ctx, c.Timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, c.Command[0], c.Command[1:]...)
		cmd.Stdin = bytes.NewReader(append(body, '\n'))
		out := &tailBuffer{max: maxOutput}
		cmd.Stdout, cmd.Stderr = out, out
		cmd.Env = append(base, alertEnv(a)...)
		// A command that leaves a child holding its output open must not
		// hold the sender past the timeout.
		cmd.WaitDelay = time.Second
		ownGroup(cmd)
		err = cmd.Run()
		if ctx.Err() == context.DeadlineExceeded {
			return 1, fmt.Errorf("%s: killed after the timeout of %s", c.Command[0], c.Timeout)
		}
		if err != nil {
			if o := strings.TrimSpace(out.String()); o != "" {
				return 1, fmt.Errorf("%s: %w: %s", c.Command[0], err, o)
			}
			return 1, fmt.Errorf("%s: %w", c.Command[0], err)
		}
		return 1, nil
	}
}

// alertEnv is the alert as environment variables.
func alertEnv(a api.Alert) []string {
	env := []string{
		"RESPAWN_EVENT=" + a.Trigger,
		"RESPAWN_RULE=" + a.Rule,
		"RESPAWN_SERVICE=" + a.Service,
		"RESPAWN_MESSAGE=" + a.Message,
		"RESPAWN_TIME=" + a.Time.UTC().Format(time.RFC3339Nano),
		"RESPAWN_HOST=" + a.Host,
		"RESPAWN_RESTARTS=" + strconv.Itoa(a.Restarts),
	}
	if a.Test {
		env = append(env, "RESPAWN_TEST=1")
	}
	return env
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
