package server

import (
	"net/http"

	"github.com/respawn-sh/respawn/internal/api"
)

// audit records a control command with whoever sent it.
func (s *Server) audit(r *http.Request, command string, args []string) {
	ev := api.Event{Type: api.EventCommand, Command: command, Args: args}
	if c, ok := CallerFrom(r.Context()); ok {
		uid := c.UID
		ev.UID, ev.CallerPid = &uid, c.Pid
	}
	s.opts.Audit(ev)
}
