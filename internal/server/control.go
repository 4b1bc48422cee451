package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/api"
)

func (s *Server) signal(w http.ResponseWriter, r *http.Request) {
	var body api.Signal
	if !decode(w, r, &body) {
		return
	}
	sig, err := ParseSignal(body.Signal)
	if err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
		return
	}
	if len(body.Names) == 0 {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, `"names" must list at least one service (or "all")`)
		return
	}
	s.audit(r, "signal", append([]string{unix.SignalName(sig)}, body.Names...))
	results, err := s.backend.SignalServices(r.Context(), sig, body.Names)
	if err != nil {
		s.backendError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.Results{Results: results})
}

// ErrBadSignal is returned by ParseSignal for anything that names no signal.
var ErrBadSignal = errors.New("invalid signal")

// ParseSignal accepts TERM, SIGTERM, term or 15.
func ParseSignal(s string) (syscall.Signal, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if n, err := strconv.Atoi(t); err == nil {
		if n > 0 && n < 65 && unix.SignalName(syscall.Signal(n)) != "" {
			return syscall.Signal(n), nil
		}
		return 0, &badSignalError{s}
	}
	if !strings.HasPrefix(t, "SIG") {
		t = "SIG" + t
	}
	if sig := unix.SignalNum(t); sig != 0 {
		return sig, nil
	}
	return 0, &badSignalError{s}
}

type badSignalError struct{ s string }

func (e *badSignalError) Error() string {
	return "invalid signal " + strconv.Quote(e.s) + " (want a name like TERM or a number)"
}
func (e *badSignalError) Unwrap() error { return ErrBadSignal }

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	var body api.Reload
	if !decode(w, r, &body) {
		return
	}
	if !body.DryRun {
		s.audit(r, "reload", nil)
	}
	plan, err := s.backend.Reload(r.Context(), body.DryRun)
	if err != nil {
		s.backendError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, plan)
}

func (s *Server) upgrade(w http.ResponseWriter, r *http.Request) {
	var body api.Upgrade
	if !decode(w, r, &body) {
		return
	}
	if s.opts.Upgrade == nil {
		writeError(w, http.StatusNotImplemented, api.CodeInternal, "this supervisor cannot upgrade in place")
		return
	}
	var args []string
	if body.Binary != "" {
		args = []string{body.Binary}
	}
	s.audit(r, "upgrade", args)
	if err := s.opts.Upgrade(r.Context(), body.Binary); err != nil {
		writeError(w, http.StatusUnprocessableEntity, api.CodeUpgrade, err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, body)
}

func (s *Server) why(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "why needs ?name=SERVICE")
		return
	}
	why, err := s.backend.Why(name)
	if err != nil {
		s.backendError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, why)
}
