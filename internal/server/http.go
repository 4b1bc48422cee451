package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/bearer"
)

// PathMetrics is served on the HTTP listener only: Prometheus text format.
const PathMetrics = "/metrics"

// ListenHTTP listens on addr (HOST:PORT; a missing host binds 127.0.0.1)
// for the HTTP transport of the API. Requests on it are served by
// HTTPHandler(token, metrics) when the listener is passed to Serve.
func (s *Server) ListenHTTP(addr, tok string, metrics http.Handler) (net.Listener, error) {
	if why := bearer.Problem(tok); why != "" {
		return nil, fmt.Errorf("http listener: %w: %s", bearer.ErrBadFile, why)
	}
	if _, ok := s.http.Handler.(*rootHandler); !ok || s.http.ConnContext == nil {
		// Without the root handler the token check would be skipped:
		// refuse to open the API to the network rather than fail open.
		return nil, errors.New("http listener: the server is not set up to dispatch by listener (Handler: s.root(), ConnContext: connContext)")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("http listener %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("http listener: %w", err)
	}
	return &httpListener{Listener: l, handler: s.HTTPHandler(tok, metrics)}, nil
}

// httpListener hands each connection the token-checking handler.
type httpListener struct {
	net.Listener
	handler http.Handler
}

func (l *httpListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &acceptedConn{Conn: c, handler: l.handler}, nil
}

// HTTPHandler serves the API's route table, plus GET /metrics from metrics
// (404 when nil), to requests that carry "Authorization: Bearer <token>";
// the dashboard (Options.Page) to anyone.
// Any other request gets 401; a client address that keeps failing must wait
// (see throttle) and gets 429 meanwhile. Refusals are recorded through
// Options.Audit, aggregated per client (see refusals).
func (s *Server) HTTPHandler(tok string, metrics http.Handler) http.Handler {
	want := sha256.Sum256([]byte(tok))
	routes := canonical(s.handler())
	brake := newThrottle()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Page != nil && isPage(r.URL.Path) {
			s.opts.Page.ServeHTTP(w, r)
			return
		}
		client := clientKey(r.RemoteAddr)
		// A client that must wait gets no answer about its token, right or
		// wrong: otherwise waiting would not slow guessing down.
		if wait, failures := brake.wait(client); wait > 0 {
			s.tooMany(w, r, client, wait, failures)
			return
		}
		got, scheme := bearerOf(r)
		// Hashing both sides first makes the comparison take the same time
		// whatever the length of what was sent.
		sum := sha256.Sum256([]byte(got))
		if !scheme || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			wait, failures := brake.fail(client)
			s.refuseHTTP(w, r, client, scheme, wait, failures)
			return
		}
		brake.pass(client)
		if r.URL.Path == PathMetrics {
			switch {
			case metrics == nil:
				writeError(w, http.StatusNotFound, api.CodeNotFound, "metrics are not available")
			case r.Method != http.MethodGet && r.Method != http.MethodHead:
				w.Header().Set("Allow", http.MethodGet)
				writeError(w, http.StatusMethodNotAllowed, api.CodeMethod, r.Method+" is not allowed on "+PathMetrics+"; use GET")
			default:
				metrics.ServeHTTP(w, r)
			}
			return
		}
		routes.ServeHTTP(w, r)
	})
}

// bearerOf returns the token of an "Authorization: Bearer" header; ok is
// false when there is no such header.
func bearerOf(r *http.Request) (token string, ok bool) {
	h := r.Header.Get("Authorization")
	scheme, rest, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// refuseHTTP answers 401 to a request without the right token. wait is
// what the failure imposes on the client before its next request, the
// failures-th in a row.
func (s *Server) refuseHTTP(w http.ResponseWriter, r *http.Request, client string, hadToken bool, wait time.Duration, failures int) {
	kind := refusedNoToken
	challenge := `Bearer realm="respawn"`
	if hadToken {
		kind = refusedWrongToken
		challenge += `, error="invalid_token"`
	}
	why := refusalKindText[kind]
	s.refusals.note(client, kind, func() api.Event {
		return api.Event{Type: api.EventRefused, Message: fmt.Sprintf("HTTP request from %s %s: %s %s (more refusals from %s are counted and recorded once a minute)",
			r.RemoteAddr, why, clip(r.Method), clip(r.URL.Path), client)}
	})
	w.Header().Set("WWW-Authenticate", challenge)
	msg := "this API needs \"Authorization: Bearer <token>\" with the token from supervisor.http.token_file; the request came " + why
	if wait > 0 {
		w.Header().Set("Retry-After", retryAfter(wait))
		msg += fmt.Sprintf("; after %d failures in a row, %s must wait %ss before its next request is looked at", failures, client, retryAfter(wait))
	}
	writeError(w, http.StatusUnauthorized, api.CodeUnauthorized, msg)
}

// tooMany answers 429 to a request from a client that must still wait.
func (s *Server) tooMany(w http.ResponseWriter, r *http.Request, client string, wait time.Duration, failures int) {
	s.refusals.note(client, refusedThrottled, func() api.Event {
		return api.Event{Type: api.EventRefused, Message: fmt.Sprintf("HTTP request from %s %s, after %d failed attempts: %s %s (more refusals from %s are counted and recorded once a minute)",
			r.RemoteAddr, refusalKindText[refusedThrottled], failures, clip(r.Method), clip(r.URL.Path), client)}
	})
	w.Header().Set("Retry-After", retryAfter(wait))
	writeError(w, http.StatusTooManyRequests, api.CodeTooManyRequests,
		fmt.Sprintf("%d failed authentications in a row from %s: retry in %ss", failures, client, retryAfter(wait)))
}

// retryAfter renders a wait as Retry-After's whole seconds, rounded up.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}

// clip keeps what a client chose from filling the journal.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}
