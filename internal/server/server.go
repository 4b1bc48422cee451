// Package server serves the control API over the supervisor's Unix socket from one handler table.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/supervisor"
)

// Backend is what the API needs from the supervisor.
type Backend interface {
	Status(names []string) (api.Status, error)
	StartServices(ctx context.Context, names []string) ([]api.Result, error)
	StopServices(ctx context.Context, names []string) ([]api.Result, error)
	RestartServices(ctx context.Context, names []string) ([]api.Result, error)
}

// maxBody bounds request bodies: a list of service names never needs more.
const maxBody = 1 << 20

// Server is the control API.
type Server struct {
	backend  Backend
	log      *slog.Logger
	shutdown func()
	http     *http.Server
}

// New returns a server for backend. shutdown is called (once, asynchronously) when
// a client asks the supervisor to stop; the reply to that request is sent when
// the supervisor has stopped every service, via the done channel.
func New(backend Backend, log *slog.Logger, shutdown func(), done <-chan struct{}) *Server {
	s := &Server{backend: backend, log: log, shutdown: shutdown}
	mux := http.NewServeMux()
	for _, rt := range s.routes(done) {
		// Methods are checked here rather than in the mux pattern so that a
		// wrong method gets a JSON error like every other failure.
		mux.HandleFunc(rt.path, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != rt.method {
				w.Header().Set("Allow", rt.method)
				writeError(w, http.StatusMethodNotAllowed, api.CodeMethod, r.Method+" is not allowed on "+rt.path+"; use "+rt.method)
				return
			}
			rt.handler(w, r)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s
}

type route struct {
	method, path string
	handler      http.HandlerFunc
}

// routes is the whole API in one table.
func (s *Server) routes(done <-chan struct{}) []route {
	return []route{
		{http.MethodGet, api.PathStatus, s.status},
		{http.MethodPost, api.PathStart, s.action(s.backend.StartServices)},
		{http.MethodPost, api.PathStop, s.action(s.backend.StopServices)},
		{http.MethodPost, api.PathRestart, s.action(s.backend.RestartServices)},
		{http.MethodPost, api.PathShutdown, s.shutdownHandler(done)},
	}
}

// Serve answers requests on l until Close.
func (s *Server) Serve(l net.Listener) error {
	err := s.http.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops accepting requests and waits briefly for those in flight.
func (s *Server) Close(ctx context.Context) error { return s.http.Shutdown(ctx) }

// ListenUnix creates the control socket at path with mode 0600, replacing a stale
// file. The caller must hold the state dir's lock, so nobody else is serving it.
func ListenUnix(path string) (net.Listener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket: %w", err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("restrict control socket: %w", err)
	}
	return l, nil
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st, err := s.backend.Status(r.URL.Query()["name"])
	if err != nil {
		s.backendError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) action(do func(context.Context, []string) ([]api.Result, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body api.Names
		if !decode(w, r, &body) {
			return
		}
		if len(body.Names) == 0 {
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, `"names" must list at least one service (or "all")`)
			return
		}
		results, err := do(r.Context(), body.Names)
		if err != nil {
			s.backendError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, api.Results{Results: results})
	}
}

func (s *Server) shutdownHandler(done <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.log.Info("shutdown requested over the control socket")
		go s.shutdown()
		select {
		case <-done:
			writeJSON(w, http.StatusOK, struct {
				Stopped bool `json:"stopped"`
			}{true})
		case <-r.Context().Done():
		}
	}
}

func (s *Server) backendError(w http.ResponseWriter, err error) {
	var unknown *supervisor.UnknownServiceError
	switch {
	case errors.As(err, &unknown):
		writeError(w, http.StatusNotFound, api.CodeUnknownService, err.Error())
	case errors.Is(err, supervisor.ErrShuttingDown):
		writeError(w, http.StatusServiceUnavailable, api.CodeShuttingDown, err.Error())
	default:
		s.log.Error("api", "err", err)
		writeError(w, http.StatusInternalServerError, api.CodeInternal, err.Error())
	}
}

// decode reads a JSON body strictly: bounded size, no unknown fields, one value.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, api.CodeBadRequest, fmt.Sprintf("body larger than %d bytes", maxBody))
			return false
		}
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "malformed JSON body: "+err.Error())
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "malformed JSON body: more than one value")
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

func writeError(w http.ResponseWriter, code int, errCode, msg string) {
	writeJSON(w, code, api.Error{Error: api.ErrorBody{Code: errCode, Message: msg}})
}
