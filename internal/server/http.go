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
	"strings"

	"github.com/respawn-sh/respawn/internal/api"
)

// PathMetrics is served on the HTTP listener only: Prometheus text format.
const PathMetrics = "/metrics"

// maxToken bounds what ReadToken reads: a token is a line, not a file.
const maxToken = 4096

// ErrBadTokenFile is wrapped by every error of ReadToken about the file
// itself (its mode, type or content), as opposed to failing to read it.
var ErrBadTokenFile = errors.New("unusable token file")

// ReadToken reads the HTTP listener's bearer token: the file's content
// without surrounding whitespace. The file must be a regular file that
// neither group nor others may access (mode & 0o077 == 0), and the token
// must be non-empty printable ASCII without spaces.
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
	return tok, nil
}

// ListenHTTP listens on addr (HOST:PORT; a missing host binds 127.0.0.1)
// for the HTTP transport of the API. Requests on it are served by
// HTTPHandler(token, metrics) when the listener is passed to Serve.
func (s *Server) ListenHTTP(addr, token string, metrics http.Handler) (net.Listener, error) {
	if token == "" {
		return nil, fmt.Errorf("http listener: %w: empty token", ErrBadTokenFile)
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
// Any other request gets 401 and is recorded through Options.Audit.
func (s *Server) HTTPHandler(token string, metrics http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	routes := canonical(s.handler())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, scheme := bearer(r)
		// Hashing both sides first makes the comparison take the same time
		// whatever the length of what was sent.
		sum := sha256.Sum256([]byte(got))
		if !scheme || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			s.refuseHTTP(w, r, scheme)
			return
		}
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

func (s *Server) refuseHTTP(w http.ResponseWriter, r *http.Request, hadToken bool) {
	why := "without a bearer token"
	challenge := `Bearer realm="respawn"`
	if hadToken {
		why = "with a wrong bearer token"
		challenge += `, error="invalid_token"`
	}
	msg := fmt.Sprintf("HTTP request from %s %s: %s %s", r.RemoteAddr, why, clip(r.Method), clip(r.URL.Path))
	s.opts.Audit(api.Event{Type: api.EventRefused, Message: msg})
	s.log.Warn("http: request refused", "remote", r.RemoteAddr, "reason", why)
	w.Header().Set("WWW-Authenticate", challenge)
	writeError(w, http.StatusUnauthorized, api.CodeUnauthorized, "this API needs \"Authorization: Bearer <token>\" with the token from supervisor.http.token_file; the request came "+why)
}

// clip keeps what a client chose from filling the journal.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}
