package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/user"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// Access says who, besides root and the supervisor's own user, may use the
// control socket.
type Access struct {
	// AllowGroup grants the socket to a group, by name or numeric gid: a
	// peer whose primary group it is, or whose user is a member of it.
	// Empty grants no group.
	AllowGroup string
}

// ErrUnknownGroup is returned by ListenSocket when Access.AllowGroup names
// no group of this system.
var ErrUnknownGroup = errors.New("unknown group")

// ListenSocket creates the control socket at path (mode 0600, replacing a
// stale file; the caller must hold the state dir's lock) and checks the
// credentials of every peer that connects to it, before reading a byte:
// root, the supervisor's own user and, with a.AllowGroup, that group pass;
// anyone else gets a 403 answer and is recorded through Options.Audit. The
// check holds whatever the socket file's mode becomes.
func (s *Server) ListenSocket(path string, a Access) (net.Listener, error) {
	pol := policy{self: os.Geteuid(), gid: -1}
	if a.AllowGroup != "" {
		gid, err := lookupGroup(a.AllowGroup)
		if err != nil {
			return nil, err
		}
		pol.gid, pol.group = gid, a.AllowGroup
	}
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
	return &peerListener{Listener: l, pol: pol, srv: s, slots: make(chan struct{}, maxRefusing)}, nil
}

// lookupGroup resolves a group name or numeric gid. A number is taken as is:
// a primary gid needs no entry in /etc/group to be meaningful.
func lookupGroup(name string) (int, error) {
	if gid, err := strconv.Atoi(name); err == nil && gid >= 0 {
		return gid, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, fmt.Errorf("supervisor.api.allow_group: %w %q: %w", ErrUnknownGroup, name, err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("supervisor.api.allow_group: group %q has a non-numeric gid %q: %w", name, g.Gid, ErrUnknownGroup)
	}
	return gid, nil
}

// peer is what the kernel says about the process at the other end of a
// Unix socket connection. pid is 0 where the system does not tell it.
type peer struct {
	uid, gid, pid int
	// groups are the supplementary groups, where the kernel reports them
	// with the credentials (BSDs); empty on Linux.
	groups []int
}

// policy decides which peers may use the socket.
type policy struct {
	self  int    // the supervisor's effective uid
	gid   int    // the allowed group, -1 for none
	group string // as written, for messages
}

// check returns nil when p may use the socket, else why not.
func (pol policy) check(p peer) error {
	if p.uid == 0 || p.uid == pol.self {
		return nil
	}
	if pol.gid < 0 {
		return fmt.Errorf("only root and uid %d (the supervisor's user) may; supervisor.api.allow_group can grant a group", pol.self)
	}
	if p.gid == pol.gid || slices.Contains(p.groups, pol.gid) || memberOf(p.uid, pol.gid) {
		return nil
	}
	return fmt.Errorf("only root, uid %d (the supervisor's user) and members of group %s may", pol.self, pol.group)
}

// memberOf reports whether the user with uid belongs to gid by the user
// and group databases. They are read on each connection, so that a change
// of membership applies without a restart; root and the supervisor's own
// user never get here.
func memberOf(uid, gid int) bool {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return false
	}
	want := strconv.Itoa(gid)
	if u.Gid == want {
		return true
	}
	ids, err := u.GroupIds()
	return err == nil && slices.Contains(ids, want)
}

// maxRefusing bounds the refusals being answered at once; beyond it a
// refused connection is closed without an answer, so that a flood of
// connections costs no more than this many goroutines.
const maxRefusing = 32

// refuseTimeout bounds how long a refused peer can hold its goroutine.
const refuseTimeout = 2 * time.Second

// peerListener checks every accepted connection's peer credentials.
type peerListener struct {
	net.Listener
	pol   policy
	srv   *Server
	slots chan struct{}
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		p, err := peerOf(c)
		if err != nil {
			l.srv.log.Warn("control socket: cannot read peer credentials; connection closed", "err", err)
			c.Close()
			continue
		}
		reason := l.pol.check(p)
		if reason == nil {
			return &acceptedConn{Conn: c, caller: &Caller{UID: p.uid, GID: p.gid, Pid: p.pid, Transport: "unix"}}, nil
		}
		l.refuse(c, p, reason)
	}
}

// refuse answers a refused peer with one 403, records it and closes the
// connection, without ever handing it to the HTTP server. A uid's first
// refusal in a while is recorded with its pid; the ones after it are counted
// and recorded once a minute (see refusals), so a user the socket was opened
// to by mistake cannot rotate the journal's history out.
func (l *peerListener) refuse(c net.Conn, p peer, reason error) {
	msg := fmt.Sprintf("uid %d may not use this socket: %v", p.uid, reason)
	uid := p.uid
	l.srv.peerRefusals.note(fmt.Sprintf("uid %d", uid), refusedPeer, func() api.Event {
		return api.Event{Type: api.EventRefused, UID: &uid, CallerPid: p.pid,
			Message: msg + fmt.Sprintf(" (pid %d; more refusals of uid %d are counted and recorded once a minute)", p.pid, uid)}
	})
	select {
	case l.slots <- struct{}{}:
	default:
		c.Close()
		return
	}
	go func() {
		defer func() { <-l.slots }()
		answerAndClose(c, http.StatusForbidden, api.CodeForbidden, msg)
	}()
}

// answerAndClose writes a whole HTTP/1.1 error response on a raw
// connection and closes it. It first lets the peer send its request head (an
// HTTP client discards an answer that comes before its request as
// unsolicited), scanning the bytes only for the blank line that ends the
// head, never parsing them; what follows is drained after the answer, so the
// peer sees the answer rather than a reset.
func answerAndClose(c net.Conn, status int, code, msg string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(refuseTimeout))
	awaitRequestHead(c)
	body, _ := json.Marshal(api.Error{Error: api.ErrorBody{Code: code, Message: msg}})
	body = append(body, '\n')
	head := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
		status, http.StatusText(status), len(body))
	if _, err := io.WriteString(c, head); err != nil {
		return
	}
	if _, err := c.Write(body); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
}

// awaitRequestHead reads until the end of an HTTP request head, at most
// maxRefusedHead bytes, or until the connection's deadline.
func awaitRequestHead(c net.Conn) {
	buf := make([]byte, 4096)
	var tail []byte
	for total := 0; total < maxRefusedHead; {
		n, err := c.Read(buf)
		total += n
		tail = append(tail, buf[:n]...)
		if bytes.Contains(tail, []byte("\r\n\r\n")) || err != nil {
			return
		}
		if len(tail) > 3 {
			tail = tail[len(tail)-3:]
		}
	}
}

// maxRefusedHead bounds what a refused peer may send before its answer.
const maxRefusedHead = 16 << 10

// acceptedConn is a connection that passed its listener's access check,
// carrying what requests on it need to know.
type acceptedConn struct {
	net.Conn
	// caller is the socket peer; nil on the HTTP listener.
	caller *Caller
	// handler serves the connection's requests instead of the socket's
	// table; set on the HTTP listener, where it checks the token first.
	handler http.Handler
}

// CloseWrite keeps the HTTP server's graceful close working through the wrapper.
func (c *acceptedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

type handlerKey struct{}

// connContext is the http.Server's ConnContext: it puts what the listener
// learned about a connection into the context of each of its requests.
func connContext(ctx context.Context, c net.Conn) context.Context {
	ac, ok := c.(*acceptedConn)
	if !ok {
		return ctx
	}
	if ac.caller != nil {
		ctx = withCaller(ctx, *ac.caller)
	}
	if ac.handler != nil {
		ctx = context.WithValue(ctx, handlerKey{}, ac.handler)
	}
	return ctx
}

// rootHandler is the http.Server's handler: a request goes to the handler
// its listener chose (the HTTP listener's, which checks the token), else to
// the route table.
type rootHandler struct{ api http.Handler }

// root returns the handler for the http.Server that serves every listener.
func (s *Server) root() http.Handler { return &rootHandler{api: canonical(s.handler())} }

// canonical answers requests for unclean paths (/v1/../v1/status, //x, an
// empty path) with a JSON error, where the mux would answer with an HTML
// redirect that no API client follows.
func canonical(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		clean := path.Clean("/" + p)
		if strings.HasSuffix(p, "/") && clean != "/" {
			clean += "/"
		}
		if p != clean {
			writeError(w, http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("no such endpoint: %s %q (paths are written without . or .. or //)", clip(r.Method), clip(p)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *rootHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if own, ok := r.Context().Value(handlerKey{}).(http.Handler); ok {
		own.ServeHTTP(w, r)
		return
	}
	h.api.ServeHTTP(w, r)
}
