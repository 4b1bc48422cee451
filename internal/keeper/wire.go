//go:build linux || darwin || freebsd

package keeper

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/platform"
	"github.com/respawn-sh/respawn/internal/proc"
)

// maxMessage bounds one message. The socket buffers are raised to fit it; a
// live table is sent one process per message, so only a saved service state
// with a long exit history comes near.
const maxMessage = 192 << 10

// Operations. Requests from the core carry an ID and get exactly one "reply"
// with the same ID; notices need none.
const (
	// core → keeper
	opHello    = "hello"    // request: the table follows as "proc" and "saved" notices, then the reply
	opEnv      = "env"      // notice: the base environment of every later spawn
	opSink     = "sink"     // request: open (or reopen) a service's log file
	opUnsink   = "unsink"   // notice: close a service's log file
	opSpawn    = "spawn"    // request: start a process; its output goes to Sink, or its pipes come back as fds
	opSignal   = "signal"   // request
	opKill     = "kill"     // request: SIGKILL the whole tree
	opGone     = "gone"     // request: reply once the tree is gone (or after TimeoutMS)
	opForget   = "forget"   // request: a service is gone for good
	opAdopt    = "adopt"    // request: a launcher's daemon, re-parented to the keeper
	opMatch    = "match"    // request: reply once a line of Pid's run matches Re
	opUsage    = "usage"    // request: CPU and memory of Pid's tree
	opUsages   = "usages"   // request: the same for each of Pids (at most maxUsageBatch), in Usages
	opSave     = "save"     // notice: what a service keeps across core restarts
	opUnsave   = "unsave"   // notice
	opReady    = "ready"    // notice: the core has started the services (Status is a summary)
	opStatus   = "status"   // notice: a new one-line summary
	opPong     = "pong"     // answer to a ping, from the core's main loop
	opUpgrade  = "upgrade"  // request: re-exec the keeper with Binary
	opBye      = "bye"      // notice: the ordered stop is done; the keeper exits with Code
	opStopping = "stopping" // notice: an ordered stop began (asked through the API)
	opListen   = "listen"   // request: open (or keep, applying Listen's settings) the socket Listen names
	opUnlisten = "unlisten" // request: close the socket of service Name at address Path

	// keeper → core
	opReply  = "reply"
	opProc   = "proc"   // one live (or exited, unreleased) process of the table
	opSaved  = "saved"  // one service's saved state
	opExit   = "exit"   // a process ended
	opTail   = "tail"   // a run's output is drained: its last lines
	opPing   = "ping"   // answer with pong
	opStop   = "stop"   // stop every service in order, then say bye
	opReload = "reload" // reload the config
	opQuit   = "quit"   // exit now, leaving services alone (an upgrade follows)
	opDrops  = "drops"  // a log's dropped lines: Name ("" the supervisor's), Seq the count, Dropping now
)

// The ping and its answer are the only messages while nothing happens,
// every half core timeout. Written and read as fixed bytes, the very bytes
// encoding/json makes of them, they leave the JSON and reflection code out of
// what an idle keeper and core run, and so out of their resident pages (see
// internal/codepages). Only these two values take the fast way out; any
// message reads the fast way in only if it is byte for byte one of them.
var (
	pingMessage = &message{Op: opPing}
	pongMessage = &message{Op: opPong}
	bareOps     = map[string]string{pingJSON: opPing, pongJSON: opPong}
)

const (
	pingJSON = `{"op":"ping"}`
	pongJSON = `{"op":"pong"}`
)

// message is the one shape every message has; each op uses some fields.
type message struct {
	Op string `json:"op"`
	ID uint64 `json:"id,omitempty"`

	Err *wireError `json:"err,omitempty"`

	Name      string          `json:"name,omitempty"`
	Pid       int             `json:"pid,omitempty"`
	Pgid      int             `json:"pgid,omitempty"`
	StartedAt time.Time       `json:"started_at,omitzero"`
	Spec      *proc.Spec      `json:"spec,omitempty"`
	Sink      string          `json:"sink,omitempty"`
	Path      string          `json:"path,omitempty"`
	Options   *logs.Options   `json:"options,omitempty"`
	Env       []string        `json:"env,omitempty"`
	Sig       int             `json:"sig,omitempty"`
	TimeoutMS int64           `json:"timeout_ms,omitempty"`
	Re        string          `json:"re,omitempty"`
	Exit      *proc.Exit      `json:"exit,omitempty"`
	OOM       bool            `json:"oom,omitempty"`
	Gone      bool            `json:"gone,omitempty"` // exit: nothing of the tree was left
	Lines     []logs.Line     `json:"lines,omitempty"`
	Blob      json.RawMessage `json:"blob,omitempty"`
	Status    string          `json:"status,omitempty"`
	Binary    string          `json:"binary,omitempty"`
	Code      int             `json:"code,omitempty"`
	CPU       time.Duration   `json:"cpu,omitempty"`
	Mem       uint64          `json:"mem,omitempty"`
	Seq       uint64          `json:"seq,omitempty"`
	Hello     *Hello          `json:"hello,omitempty"`
	Dropping  bool            `json:"dropping,omitempty"`
	Pids      []int           `json:"pids,omitempty"`
	Usages    []usageOf       `json:"usages,omitempty"`
	Listen    *ListenSpec     `json:"listen,omitempty"`
}

// usageOf is one process tree's usage in an opUsages reply.
type usageOf struct {
	Pid int           `json:"pid"`
	CPU time.Duration `json:"cpu,omitempty"`
	Mem uint64        `json:"mem,omitempty"`
	Err *wireError    `json:"err,omitempty"`
}

// maxUsageBatch bounds the pids of one opUsages request: its reply, with an
// error for each, stays well within maxMessage.
const maxUsageBatch = 500

// Hello is what the keeper tells a core that connects.
type Hello struct {
	KeeperPid   int       `json:"keeper_pid"`
	StartedAt   time.Time `json:"started_at"`
	Containment string    `json:"containment"`
	// Platform is the keeper's: "linux" or "posix".
	Platform string `json:"platform"`
	// CgroupBase holds every service (and the core) in cgroup mode.
	CgroupBase   string `json:"cgroup_base,omitempty"`
	CoreRestarts int    `json:"core_restarts"`
	// Previous says how the core before this one ended; nil for the first.
	Previous *CoreEnd `json:"previous,omitempty"`
	// Stopping: an ordered stop was under way when the previous core died;
	// the new one must finish it.
	Stopping bool `json:"stopping,omitempty"`
	// Upgrade reports the last upgrade, if any.
	Upgrade *UpgradeResult `json:"upgrade,omitempty"`
	Binary  string         `json:"binary"`
	// Listeners are the sockets the keeper holds.
	Listeners []ListenSpec `json:"listeners,omitempty"`
}

// CoreEnd is how a core process ended.
type CoreEnd struct {
	Pid    int       `json:"pid"`
	At     time.Time `json:"at"`
	Exit   string    `json:"exit"`             // "killed by signal 9", "exit status 2"
	Reason string    `json:"reason,omitempty"` // one of the Reason* constants, or "hung: ..." and the like
	// Output is the end of the core's crash output (runtime panics and fatal errors).
	Output string `json:"output,omitempty"`
}

// Why a core ended, when the keeper did not end it for a reason of its own
// ("hung: no answer for 15s" and the like).
const (
	ReasonCrashed = "crashed"          // it died by itself
	ReasonStopped = "stopped"          // it stopped the services and said bye
	ReasonUpgrade = "quit for upgrade" // the keeper told it to quit, to re-exec
)

// UpgradeResult is the outcome of the last `respawn upgrade`.
type UpgradeResult struct {
	At     time.Time `json:"at"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Error  string    `json:"error,omitempty"` // set when it was rolled back
	Active string    `json:"active"`          // the binary running now
}

// wireError carries an error across the socket, keeping what callers test
// with errors.Is/As.
type wireError struct {
	Kind  string `json:"kind"` // "spawn", "done", "not_child", "tracked", "closed", "other"
	Op    string `json:"op,omitempty"`
	Path  string `json:"path,omitempty"`
	Errno int    `json:"errno,omitempty"`
	Msg   string `json:"msg"`
}

// RemoteError is an error the keeper reported that has no local type.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return e.Msg }

// sentinelError is a keeper error that wrapped a known sentinel: its text as
// the keeper wrote it, and the sentinel for errors.Is.
type sentinelError struct {
	msg string
	err error
}

func (e *sentinelError) Error() string { return e.msg }
func (e *sentinelError) Unwrap() error { return e.err }

func encodeError(err error) *wireError {
	if err == nil {
		return nil
	}
	we := &wireError{Kind: "other", Msg: err.Error()}
	var se *proc.SpawnError
	var errno syscall.Errno
	switch {
	case errors.As(err, &se):
		we.Kind, we.Op, we.Path = "spawn", se.Op, se.Path
		we.Msg = se.Err.Error()
		if errors.As(se.Err, &errno) {
			we.Errno = int(errno)
		}
	case errors.Is(err, os.ErrProcessDone):
		we.Kind = "done"
	case errors.Is(err, proc.ErrNotChild):
		we.Kind = "not_child"
	case errors.Is(err, proc.ErrTracked):
		we.Kind = "tracked"
	case errors.Is(err, proc.ErrClosed):
		we.Kind = "closed"
	}
	return we
}

func (we *wireError) decode() error {
	if we == nil {
		return nil
	}
	switch we.Kind {
	case "spawn":
		var inner error = errors.New(we.Msg)
		if we.Errno != 0 {
			inner = syscall.Errno(we.Errno)
		}
		return &proc.SpawnError{Op: we.Op, Path: we.Path, Err: inner}
	case "done":
		return &sentinelError{msg: we.Msg, err: os.ErrProcessDone}
	case "not_child":
		return &sentinelError{msg: we.Msg, err: proc.ErrNotChild}
	case "tracked":
		return &sentinelError{msg: we.Msg, err: proc.ErrTracked}
	case "closed":
		return &sentinelError{msg: we.Msg, err: proc.ErrClosed}
	}
	return &RemoteError{Msg: we.Msg}
}

// conn is one end of the keeper–core socket. On SOCK_SEQPACKET (Linux) each
// message is one datagram with its file descriptors alongside. On SOCK_STREAM
// (the POSIX path: macOS has no SOCK_SEQPACKET for Unix sockets) each message
// is a frame — a 4-byte big-endian length, a byte counting the fds that came
// with it, then the JSON — sent with its fds attached to its first byte.
// Sends are serialized; one goroutine receives.
type conn struct {
	fd int
	// f holds fd in non-blocking mode on the runtime's poller, and raw sends and
	// receives on it: a goroutine waiting for the peer parks instead of sitting in a
	// system call, so the process is idle as soon as its work is done (a thread in a
	// blocking call keeps the runtime's monitor thread waking every 20 µs).
	f      *os.File
	raw    syscall.RawConn
	stream bool       // SOCK_STREAM framing
	sendMu sync.Mutex // serializes sends on the socket: one message at a time
	buf    []byte     // receive buffer, owned by the receiving goroutine
	oob    []byte
	// On a stream, buf[:have] holds bytes read but not yet returned, and
	// fds holds the files received with them, in order.
	have int
	fds  []*os.File
}

// frameHeader is the length and fd count that open each message on a stream.
const frameHeader = 5

// maxFrameFiles bounds the fds one message carries (a spawn's pipes come back
// as at most 3; a frame announcing more is corrupt).
const maxFrameFiles = 4

// socketType is the keeper–core socket's type under the features in force.
func socketType(f platform.Features) int {
	if f.SeqPacket {
		return unix.SOCK_SEQPACKET
	}
	return unix.SOCK_STREAM
}

func newConn(fd int, stream bool) *conn {
	// Best effort: the defaults (about 200 KiB) fit all but the largest
	// saved states; a root keeper can force more.
	for _, opt := range []int{unix.SO_SNDBUF, unix.SO_RCVBUF} {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, maxMessage+4096)
	}
	noSigpipe(fd)
	size := maxMessage
	if stream {
		size += frameHeader
	}
	c := &conn{fd: fd, stream: stream, buf: make([]byte, size), oob: make([]byte, unix.CmsgSpace(maxFrameFiles*4))}
	// os.NewFile puts a descriptor on the poller only if it is non-blocking; a
	// socket always can be.
	_ = unix.SetNonblock(fd, true)
	c.f = os.NewFile(uintptr(fd), "keeper-conn")
	c.raw, _ = c.f.SyscallConn() // an *os.File always has one
	return c
}

// send writes m with files attached. It blocks while the peer's buffer is full.
func (c *conn) send(m *message, files ...*os.File) error {
	var b []byte
	var err error
	switch m {
	case pingMessage:
		b = []byte(pingJSON)
	case pongMessage:
		b = []byte(pongJSON)
	default:
		if b, err = json.Marshal(m); err != nil {
			return fmt.Errorf("encode %s: %w", m.Op, err)
		}
	}
	if len(b) > maxMessage {
		return fmt.Errorf("%s message of %d bytes: %w", m.Op, len(b), ErrTooLarge)
	}
	if len(files) > maxFrameFiles {
		return fmt.Errorf("%s message with %d files: %w", m.Op, len(files), ErrTooLarge)
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	if c.stream {
		framed := make([]byte, frameHeader, frameHeader+len(b))
		binary.BigEndian.PutUint32(framed, uint32(len(b)))
		framed[4] = byte(len(files))
		b = append(framed, b...)
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	for len(b) > 0 {
		var n int
		werr := c.raw.Write(func(fd uintptr) bool {
			for {
				n, err = unix.SendmsgN(int(fd), b, oob, nil, sendFlags)
				if !errors.Is(err, unix.EINTR) {
					return !errors.Is(err, unix.EAGAIN)
				}
			}
		})
		if err == nil {
			err = werr
		}
		if err != nil {
			return fmt.Errorf("send %s: %w", m.Op, err)
		}
		// A datagram goes whole; a stream may take part of a frame. The fds
		// went with its first byte.
		if !c.stream {
			break
		}
		b, oob = b[n:], nil
	}
	return nil
}

// recv reads the next message and the files that came with it. io.EOF-like
// conditions (peer gone) return ErrPeerGone.
func (c *conn) recv() (*message, []*os.File, error) {
	if c.stream {
		return c.recvFrame()
	}
	n, oobn, flags, err := c.recvmsg(c.buf)
	if err != nil {
		return nil, nil, err
	}
	files, ferr := parseRights(c.oob[:oobn])
	if n == 0 && oobn == 0 {
		return nil, nil, ErrPeerGone
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		closeFiles(files)
		return nil, nil, fmt.Errorf("receive: %w", ErrTooLarge)
	}
	if ferr != nil {
		closeFiles(files)
		return nil, nil, ferr
	}
	return decodeMessage(c.buf[:n], files)
}

// recvmsg reads once into b, retrying on EINTR.
func (c *conn) recvmsg(b []byte) (n, oobn, flags int, err error) {
	rerr := c.raw.Read(func(fd uintptr) bool {
		for {
			n, oobn, flags, _, err = unix.Recvmsg(int(fd), b, c.oob, recvFlags)
			if !errors.Is(err, unix.EINTR) {
				return !errors.Is(err, unix.EAGAIN)
			}
		}
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		if errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.EBADF) || errors.Is(err, os.ErrClosed) {
			return 0, 0, 0, ErrPeerGone
		}
		return 0, 0, 0, fmt.Errorf("receive: %w", err)
	}
	return n, oobn, flags, nil
}

// recvFrame reads until buf holds a whole frame, then returns its message
// and as many queued files as its header counts. Files arrive with the first
// byte of their frame, so by the time a frame is whole its files are queued.
func (c *conn) recvFrame() (*message, []*os.File, error) {
	for {
		if c.have >= frameHeader {
			size := int(binary.BigEndian.Uint32(c.buf))
			nfiles := int(c.buf[4])
			if size > maxMessage || nfiles > maxFrameFiles {
				return nil, nil, fmt.Errorf("receive: frame of %d bytes with %d files: %w", size, nfiles, ErrTooLarge)
			}
			if end := frameHeader + size; c.have >= end {
				if len(c.fds) < nfiles {
					return nil, nil, fmt.Errorf("receive: frame announces %d files, %d came", nfiles, len(c.fds))
				}
				files := slices.Clone(c.fds[:nfiles])
				c.fds = slices.Delete(c.fds, 0, nfiles)
				m, files, err := decodeMessage(c.buf[frameHeader:end], files)
				c.have = copy(c.buf, c.buf[end:c.have])
				return m, files, err
			}
		}
		n, oobn, flags, err := c.recvmsg(c.buf[c.have:])
		if err != nil {
			return nil, nil, err
		}
		files, ferr := parseRights(c.oob[:oobn])
		c.fds = append(c.fds, files...)
		if ferr != nil || flags&unix.MSG_CTRUNC != 0 {
			return nil, nil, fmt.Errorf("receive: files lost: %w", errors.Join(ferr, ErrTooLarge))
		}
		if n == 0 {
			return nil, nil, ErrPeerGone
		}
		c.have += n
	}
}

func decodeMessage(b []byte, files []*os.File) (*message, []*os.File, error) {
	if op, ok := bareOps[string(b)]; ok && len(files) == 0 {
		return &message{Op: op}, nil, nil
	}
	m := new(message)
	if err := json.Unmarshal(b, m); err != nil {
		closeFiles(files)
		return nil, nil, fmt.Errorf("decode message: %w", err)
	}
	return m, files, nil
}

func (c *conn) close() error {
	closeFiles(c.fds) // received with a frame that never completed
	c.fds = nil
	return c.f.Close()
}

func parseRights(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	var files []*os.File
	for _, cm := range cmsgs {
		fds, err := unix.ParseUnixRights(&cm)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			markCloexec(fd)
			files = append(files, os.NewFile(uintptr(fd), "keeper-fd"))
		}
	}
	return files, nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// Errors.
var (
	// ErrPeerGone: the other end of the keeper–core socket closed.
	ErrPeerGone = errors.New("keeper connection closed")
	// ErrTooLarge: a message does not fit the socket.
	ErrTooLarge = errors.New("message too large")
	// ErrUnknownPid: the keeper's table has no such process.
	ErrUnknownPid = errors.New("no such process in the keeper's table")
)
