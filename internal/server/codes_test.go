package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/supervisor"
)

// TestBackendErrorsKeepTheirCodes: the server knows the supervisor's errors
// only by the code they carry; each must reach the client with its status,
// wrapped or not, and anything else is a 500.
func TestBackendErrorsKeepTheirCodes(t *testing.T) {
	s := wired(t, &fuzzBackend{}, nil)
	for _, tt := range []struct {
		err    error
		status int
		code   string
	}{
		{&supervisor.UnknownServiceError{Names: []string{"x"}}, http.StatusNotFound, api.CodeUnknownService},
		{fmt.Errorf("start: %w", supervisor.ErrShuttingDown), http.StatusServiceUnavailable, api.CodeShuttingDown},
		{&supervisor.ReloadRefusedError{Reason: "state_dir changed"}, http.StatusUnprocessableEntity, api.CodeConfig},
		{&supervisor.ConfigError{Err: errors.New("r.yaml:1:1: bad")}, http.StatusUnprocessableEntity, api.CodeConfig},
		{errors.New("disk on fire"), http.StatusInternalServerError, api.CodeInternal},
	} {
		w := httptest.NewRecorder()
		s.backendError(w, tt.err)
		var e api.Error
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != tt.status || e.Error.Code != tt.code || e.Error.Message != tt.err.Error() {
			t.Errorf("%v: %d %s (%v), want %d %s", tt.err, w.Code, w.Body.String(), err, tt.status, tt.code)
		}
	}
}
