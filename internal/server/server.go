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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// Backend is what the API needs from the supervisor.
type Backend interface {
	Status(names []string) (api.Status, error)
	// Overview is Status without measuring CPU and memory: for a caller
	// that reads states only (waiting, listing names).
	Overview(names []string) (api.Status, error)
	StartServices(ctx context.Context, names []string) ([]api.Result, error)
	StopServices(ctx context.Context, names []string) ([]api.Result, error)
	RestartServices(ctx context.Context, names []string) ([]api.Result, error)
	SignalServices(ctx context.Context, sig syscall.Signal, names []string) ([]api.Result, error)
	Why(name string) (api.Why, error)
	// LogFiles maps service names (all when empty) to their log file paths, in config order.
	LogFiles(names []string) ([]LogFile, error)
	Reload(ctx context.Context, dryRun bool) (api.Plan, error)
}

// LogFile names one service's current log file.
type LogFile struct {
	Service string
	Path    string
}

// Events is the event journal, as the API reads it.
type Events interface {
	// Follow emits the events recorded since since (the last n of them when
	// n > 0), then, when follow is true, every new event until ctx ends.
	Follow(ctx context.Context, since time.Time, n int, follow bool, emit func(api.Event) error) error
}

// Options are the server's collaborators.
type Options struct {
	Backend Backend
	Events  Events
	Logger  *slog.Logger
	// Shutdown is called (once, asynchronously) when a client asks the
	// supervisor to stop; the reply to that request is sent when Done closes,
	// that is once every service has stopped.
	Shutdown func()
	Done     <-chan struct{}
	// Upgrade asks the keeper to re-exec with a new binary ("" for its own);
	// nil when the supervisor cannot upgrade in place.
	Upgrade func(ctx context.Context, binary string) error
	// Audit records control commands and refused connections; may be nil.
	Audit func(api.Event)
	// Page is the dashboard, served on the HTTP listener at "/" and under
	// PagePrefix without a token: it holds no data, and reads everything
	// through the API with the token the person types in. Nil: none.
	Page http.Handler
	// Alerts answers POST /v1/alerts/test; nil: not configured.
	Alerts Alerts
}

// PagePrefix is where the dashboard's files are served (the web package's Prefix).
const PagePrefix = "/ui/"

// isPage says whether a path is the dashboard's.
func isPage(path string) bool { return path == "/" || strings.HasPrefix(path, PagePrefix) }

// maxBody bounds request bodies: a list of service names never needs more.
const maxBody = 1 << 20

// Server is the control API.
type Server struct {
	opts    Options
	backend Backend
	log     *slog.Logger
	http    *http.Server
	// refusals aggregates the HTTP listener's refused requests into
	// events; peerRefusals the control socket's refused connections.
	refusals     *refusals
	peerRefusals *refusals
}

// New returns the API server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Audit == nil {
		opts.Audit = func(api.Event) {}
	}
	s := &Server{opts: opts, backend: opts.Backend, log: opts.Logger}
	s.refusals = newRefusals(opts.Audit, opts.Logger, "HTTP request", "http")
	s.peerRefusals = newRefusals(opts.Audit, opts.Logger, "control-socket connection", "control socket")
	s.http = &http.Server{
		Handler:           s.root(),
		ConnContext:       connContext,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return s
}

// handler builds the mux from the route table.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
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
	return mux
}

type route struct {
	method, path string
	handler      http.HandlerFunc
}

// routes is the whole API in one table.
func (s *Server) routes() []route {
	return []route{
		{http.MethodGet, api.PathStatus, s.status},
		{http.MethodPost, api.PathStart, s.action("start", s.backend.StartServices)},
		{http.MethodPost, api.PathStop, s.action("stop", s.backend.StopServices)},
		{http.MethodPost, api.PathRestart, s.action("restart", s.backend.RestartServices)},
		{http.MethodPost, api.PathSignal, s.signal},
		{http.MethodPost, api.PathReload, s.reload},
		{http.MethodPost, api.PathShutdown, s.shutdownHandler},
		{http.MethodPost, api.PathUpgrade, s.upgrade},
		{http.MethodGet, api.PathWhy, s.why},
		{http.MethodGet, api.PathEvents, s.events},
		{http.MethodGet, api.PathLogs, s.logs},
		{http.MethodPost, api.PathAlertsTest, s.alertsTest},
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
func (s *Server) Close(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	s.FlushRefusals()
	return err
}

// FlushRefusals records the refused requests counted but not recorded yet
// (refusals are recorded once a minute per client). The supervisor calls it
// before it closes the journal; Close calls it too.
func (s *Server) FlushRefusals() {
	s.refusals.flushAll()
	s.peerRefusals.flushAll()
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status := s.backend.Status
	if q.Get("usage") == "0" {
		status = s.backend.Overview
	}
	st, err := status(q["name"])
	if err != nil {
		s.backendError(w, err)
		return
	}
	buf := statusBufs.Get().(*[]byte)
	b := api.AppendStatusJSON((*buf)[:0], &st)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b) // the client went away; nothing to do
	if cap(b) <= maxPooledStatus {
		*buf = b
		statusBufs.Put(buf)
	}
}

// statusBufs keeps the buffers status answers are written in, so that a
// status called again and again does not allocate its answer every time;
// one grown past maxPooledStatus (a status of thousands of services) is
// left to the garbage collector.
var statusBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

const maxPooledStatus = 4 << 20

func (s *Server) action(command string, do func(context.Context, []string) ([]api.Result, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body api.Names
		if !decode(w, r, &body) {
			return
		}
		if len(body.Names) == 0 {
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, `"names" must list at least one service (or "all")`)
			return
		}
		s.audit(r, command, body.Names)
		results, err := do(r.Context(), body.Names)
		if err != nil {
			s.backendError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, api.Results{Results: results})
	}
}

func (s *Server) shutdownHandler(w http.ResponseWriter, r *http.Request) {
	s.log.Info("shutdown requested over the control socket")
	s.audit(r, "down", nil)
	go s.opts.Shutdown()
	select {
	case <-s.opts.Done:
		writeJSON(w, http.StatusOK, struct {
			Stopped bool `json:"stopped"`
		}{true})
	case <-r.Context().Done():
	}
}

// CodedError is an error the backend classifies for the API: APICode
// returns one of the api.Code* constants below, which decides the status.
// Any other error is a 500.
type CodedError interface {
	error
	APICode() string
}

// codeStatus is the status of each code a backend error may carry.
var codeStatus = map[string]int{
	api.CodeUnknownService: http.StatusNotFound,
	api.CodeShuttingDown:   http.StatusServiceUnavailable,
	api.CodeConfig:         http.StatusUnprocessableEntity,
	api.CodeUnknownRule:    http.StatusNotFound,
}

func (s *Server) backendError(w http.ResponseWriter, err error) {
	var coded CodedError
	if errors.As(err, &coded) {
		if status, ok := codeStatus[coded.APICode()]; ok {
			writeError(w, status, coded.APICode(), err.Error())
			return
		}
	}
	s.log.Error("api", "err", err)
	writeError(w, http.StatusInternalServerError, api.CodeInternal, err.Error())
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
