//go:build linux || darwin || freebsd

package keeper

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// CodeCoreRestarting is the error code of the keeper's answer on the control
// socket while no core serves it (the api package's codes, which the keeper
// does not import, are of the same kind).
const CodeCoreRestarting = "core_restarting"

// Bounds of the fallback answer: a few callers at a time, each with a short
// deadline and a small request, so that nobody can make the keeper hold much.
const (
	fallbackConns    = 8
	fallbackDeadline = 2 * time.Second
	fallbackHeader   = 8 << 10
	fallbackBody     = 64 << 10
)

// fallback answers the control socket while no core serves it: a core
// crashed and the next one is not up yet, or the keeper paces cores that keep
// failing. Without it, commands found no socket and said the supervisor is
// not running. Each request gets one fixed answer, 503 core_restarting; a
// Retry-After header says when a core is expected, and is left out when the
// cores fail before they are ready (waiting would not help).
//
// The loop binds it when a core has ended and closes it once the next core
// is ready (the core has bound its own socket at that path by then).
type fallback struct {
	path string
	ln   *net.UnixListener
	node os.FileInfo // the socket file bound, so that only that one is removed
	sem  chan struct{}

	mu    sync.Mutex // guards state, the fixed answer written while no core runs
	state fallbackState
}

// fallbackState is what the answer says.
type fallbackState struct {
	keeperPid int
	starting  bool      // a core process runs and is not ready yet
	nextAt    time.Time // when the next core starts, if none runs
	failing   bool      // the last core ended before it was ready
	lastEnd   *CoreEnd
}

// bindFallback listens at path, replacing the file a dead core left.
func bindFallback(path string, initial fallbackState) (*fallback, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale control socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	// The next core replaces the file: closing this listener must not remove it.
	ln.SetUnlinkOnClose(false)
	node, err := restrictSocket(path)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("restrict control socket: %w", err)
	}
	// The state is in place before the first caller is answered: a caller
	// right after a core's death must not get an answer that knows nothing.
	f := &fallback{path: path, ln: ln, node: node, sem: make(chan struct{}, fallbackConns), state: initial}
	go f.serve()
	return f, nil
}

func (f *fallback) set(s fallbackState) {
	f.mu.Lock()
	f.state = s
	f.mu.Unlock()
}

// close stops answering; with remove, it also removes the socket file if it
// is still the one it bound (not a core's).
func (f *fallback) close(remove bool) {
	f.ln.Close()
	if !remove {
		return
	}
	if fi, err := os.Lstat(f.path); err == nil && os.SameFile(fi, f.node) {
		_ = os.Remove(f.path)
	}
}

func (f *fallback) serve() {
	for {
		c, err := f.ln.AcceptUnix()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed
		}
		select {
		case f.sem <- struct{}{}:
			go func() {
				defer func() { <-f.sem }()
				f.answer(c)
			}()
		default:
			c.Close() // busy: the caller retries or gives up, the keeper holds nothing
		}
	}
}

// answer reads one request's head (bounded) and writes the fixed answer.
func (f *fallback) answer(c *net.UnixConn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(fallbackDeadline))
	buf := make([]byte, 0, 1024)
	chunk := make([]byte, 1024)
	for !bytes.Contains(buf, []byte("\r\n\r\n")) {
		if len(buf) >= fallbackHeader {
			return
		}
		n, err := c.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if err != nil {
			return
		}
	}
	status, body, retry := f.reply(allowedPeer(c), time.Now())
	var hdr bytes.Buffer
	fmt.Fprintf(&hdr, "HTTP/1.1 %d Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n",
		status, len(body))
	if retry >= 0 {
		fmt.Fprintf(&hdr, "Retry-After: %d\r\n", retry)
	}
	hdr.WriteString("\r\n")
	hdr.Write(body)
	if _, err := c.Write(hdr.Bytes()); err != nil {
		return
	}
	// Read what is left of the request (a small JSON body), so that the
	// caller's write does not fail before it has read the answer.
	_ = c.CloseWrite()
	_, _ = io.Copy(io.Discard, io.LimitReader(c, fallbackBody))
}

// reply is the answer's status, JSON body and Retry-After in seconds (-1:
// none). Only root and the keeper's user (detailed) learn how the last core
// ended; anyone else that reached the socket learns only that it restarts.
func (f *fallback) reply(detailed bool, now time.Time) (int, []byte, int) {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	f.mu.Lock()
	s := f.state
	f.mu.Unlock()
	e.Error.Code = CodeCoreRestarting
	msg := "the supervisor's core is restarting"
	if detailed {
		msg += " (keeper pid " + strconv.Itoa(s.keeperPid) + ")"
		if p := s.lastEnd; p != nil {
			msg += fmt.Sprintf("; the last core (pid %d) ended: %s", p.Pid, p.Exit)
			if p.Reason != "" && p.Reason != ReasonCrashed {
				msg += " (" + p.Reason + ")"
			}
		}
	}
	retry := -1
	switch {
	case s.starting:
		msg += "; a new core is starting"
		if !s.failing {
			retry = 0
		}
	case !s.nextAt.IsZero():
		wait := max(s.nextAt.Sub(now), 0)
		msg += "; next attempt in " + wait.Round(100*time.Millisecond).String()
		if !s.failing {
			retry = int(math.Ceil(wait.Seconds()))
		}
	}
	if s.failing {
		msg += "; cores keep ending before they are ready: see the supervisor's log"
		if detailed {
			msg += "; SIGTERM to pid " + strconv.Itoa(s.keeperPid) + " stops every service"
		}
	}
	e.Error.Message = msg
	b, _ := json.Marshal(e)
	return 503, b, retry
}

// allowedPeer: root and the keeper's own user.
func allowedPeer(c *net.UnixConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	uid := -1
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		uid, _, cerr = peerCred(int(fd))
	}); err != nil || cerr != nil {
		return false
	}
	return uid == 0 || uid == os.Geteuid()
}
