package server

import (
	"context"
	"net/http"

	"github.com/respawn-sh/respawn/internal/api"
)

// Alerts is what the API needs of the alerts: a test through a rule's
// destinations ("" for every rule). An error with APICode unknown_rule is
// a 404.
type Alerts interface {
	Test(ctx context.Context, rule string) ([]api.AlertAttempt, error)
}

func (s *Server) alertsTest(w http.ResponseWriter, r *http.Request) {
	var body api.AlertsTest
	if !decode(w, r, &body) {
		return
	}
	if s.opts.Alerts == nil {
		writeError(w, http.StatusNotFound, api.CodeUnknownRule, "alerts are not configured (the alerts section of the config)")
		return
	}
	var args []string
	if body.Rule != "" {
		args = []string{body.Rule}
	}
	s.audit(r, "alerts test", args)
	attempts, err := s.opts.Alerts.Test(r.Context(), body.Rule)
	if err != nil {
		s.backendError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.AlertAttempts{Attempts: attempts})
}
