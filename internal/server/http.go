package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
)

// PathMetrics is served on the HTTP listener only: Prometheus text format.
const PathMetrics = "/metrics"

// maxToken bounds what ReadToken reads: a token is a line, not a file.
const maxToken = config.MaxTokenLen

// ErrBadTokenFile is wrapped by every error of ReadToken about the file
// itself (its mode, type or content), as opposed to failing to read it.
var ErrBadTokenFile = errors.New("unusable token file")

// ReadToken reads the HTTP listener's bearer token: the file's content
// without surrounding whitespace. The file must be a regular file that
// neither group nor others may access (mode & 0o077 == 0), and the token
// must be printable ASCII without spaces, strong enough for
// config.TokenProblem.
func ReadToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("token file %s: %w: not a regular file", path, ErrBadTokenFile)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("token file %s has mode %04o: %w: group and others must have no access (chmod 600 %s)", path, perm, ErrBadTokenFile, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxToken+1))
	if err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	if len(data) > maxToken {
		return "", fmt.Errorf("token file %s: %w: longer than %d bytes", path, ErrBadTokenFile, maxToken)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", fmt.Errorf("token file %s: %w: it is empty", path, ErrBadTokenFile)
	}
	for _, r := range tok {
		if r <= ' ' || r > '~' {
			return "", fmt.Errorf("token file %s: %w: the token must be printable ASCII without spaces", path, ErrBadTokenFile)
		}
	}
	if why := config.TokenProblem(tok); why != "" {
		return "", fmt.Errorf("token file %s: %w: it is too easy to guess: %s; make one with: %s", path, ErrBadTokenFile, why, config.TokenRecipe(path))
	}
	return tok, nil
}

// ListenHTTP listens on addr (HOST:PORT; a missing host binds 127.0.0.1)
// for the HTTP transport of the API. Requests on it are served by
// HTTPHandler(token, metrics) when the listener is passed to Serve.
func (s *Server) ListenHTTP(addr, token string, metrics http.Handler) (net.Listener, error) {
	if why := config.TokenProblem(token); why != "" {
		return nil, fmt.Errorf("http listener: %w: %s", ErrBadTokenFile, why)
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
	return &httpListener{Listener: l, handler: s.HTTPHandler(token, metrics)}, nil
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
// (404 when nil), to requests that carry "Authorization: Bearer <token>".
// Any other request gets 401; a client address that keeps failing must wait
// (see throttle) and gets 429 meanwhile. Refusals are recorded through
// Options.Audit, aggregated per client (see refusals).
func (s *Server) HTTPHandler(token string, metrics http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	routes := canonical(s.handler())
	brake := newThrottle()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := clientKey(r.RemoteAddr)
		// A client that must wait gets no answer about its token, right or
		// wrong: otherwise waiting would not slow guessing down.
		if wait, failures := brake.wait(client); wait > 0 {
			s.tooMany(w, r, client, wait, failures)
			return
		}
		got, scheme := bearer(r)
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

// bearer returns the token of an "Authorization: Bearer" header; ok is
// false when there is no such header.
func bearer(r *http.Request) (token string, ok bool) {
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
