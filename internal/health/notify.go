package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Notify is one service's sd_notify endpoint: the socket its NOTIFY_SOCKET names. It
// keeps what the service's current incarnation said: READY=1, STATUS= and WATCHDOG=1
// pings. Other keys are ignored. Its methods are safe for concurrent use.
type Notify struct {
	conn    *net.UnixConn
	path    string // the socket file to remove on Close; empty for an abstract socket
	belongs func(ctx context.Context, pid int) error
	// ctx is cancelled when Close begins, ending a check that waits.
	ctx     context.Context
	cancel  context.CancelFunc
	pings   chan struct{} // buffer 1: a ping not yet taken is enough
	dropped atomic.Uint64
	done    chan struct{} // closed when the reading goroutine has returned

	closeOnce sync.Once
	closeErr  error

	mu          sync.Mutex    // guards the fields below: the reader writes, callers read and Reset
	ready       chan struct{} // closed at the first READY=1 since the last Reset
	readyClosed bool
	status      string
	drops       []NotifyDrop // the most recent, oldest first, at most maxDrops
	runDrops    int          // drops since the last Reset
}

// NotifyDrop is one datagram the socket threw away, and why.
type NotifyDrop struct {
	At     time.Time
	Pid    int // the sender; 0 when the datagram came without credentials
	Reason string
}

// maxDrops bounds the drops kept for `why`: a flood of foreign datagrams
// keeps only the latest.
const maxDrops = 8

func newNotify(conn *net.UnixConn, path string, belongs func(ctx context.Context, pid int) error) *Notify {
	ctx, cancel := context.WithCancel(context.Background())
	return &Notify{
		conn:    conn,
		path:    path,
		belongs: belongs,
		ctx:     ctx,
		cancel:  cancel,
		pings:   make(chan struct{}, 1),
		done:    make(chan struct{}),
		ready:   make(chan struct{}),
	}
}

// Ready returns a channel closed at the first READY=1 from a process that belongs,
// since the last Reset. Take it again after Reset: the old one is never closed.
func (n *Notify) Ready() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ready
}

// Reset starts a new incarnation: READY, the status, a pending ping and the count
// of RunDrops are forgotten.
func (n *Notify) Reset() {
	n.mu.Lock()
	n.ready, n.readyClosed, n.status, n.runDrops = make(chan struct{}), false, "", 0
	n.mu.Unlock()
	select {
	case <-n.pings:
	default:
	}
}

// Status returns the last STATUS= the current incarnation sent, or "".
func (n *Notify) Status() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.status
}

// Pings returns a channel that gets one value per WATCHDOG=1, dropped when one is
// already waiting, so a slow reader never stalls the socket.
func (n *Notify) Pings() <-chan struct{} {
	return n.pings
}

// Dropped returns how many datagrams were thrown away: from a process that does not
// belong to the service, without sender credentials, or too long.
func (n *Notify) Dropped() uint64 {
	return n.dropped.Load()
}

// Drops returns the most recent dropped datagrams, oldest first.
func (n *Notify) Drops() []NotifyDrop {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]NotifyDrop(nil), n.drops...)
}

// RunDrops returns how many datagrams were dropped since the last Reset and the
// last of them.
func (n *Notify) RunDrops() (count int, last NotifyDrop) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.runDrops > 0 {
		last = n.drops[len(n.drops)-1]
	}
	return n.runDrops, last
}

// drop counts a datagram thrown away and keeps why.
func (n *Notify) drop(pid int, reason string) {
	n.dropped.Add(1)
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.drops) == maxDrops {
		n.drops = append(n.drops[:0], n.drops[1:]...)
	}
	n.drops = append(n.drops, NotifyDrop{At: time.Now(), Pid: pid, Reason: reason})
	n.runDrops++
}

// Chown gives the socket file to uid and gid, keeping its mode 0600: a
// service that runs as another user can then send to it, and no one else
// but root. An abstract socket has no file and is left as it is.
func (n *Notify) Chown(uid, gid int) error {
	if n.path == "" {
		return nil
	}
	if err := os.Lchown(n.path, uid, gid); err != nil {
		return fmt.Errorf("notify socket: %w", err)
	}
	return nil
}

// Close stops reading, closes the socket and removes its file. Only the first call
// does anything; later calls return the same error.
func (n *Notify) Close() error {
	n.closeOnce.Do(func() {
		n.cancel()
		n.closeErr = n.conn.Close()
		<-n.done
		n.closeErr = removeSocket(n.path, n.closeErr)
	})
	return n.closeErr
}

// handle applies one datagram from pid.
func (n *Notify) handle(pid int, msg []byte) {
	if err := n.belongs(n.ctx, pid); err != nil {
		n.drop(pid, err.Error())
		return
	}
	for line := range bytes.SplitSeq(msg, []byte("\n")) {
		key, value, ok := bytes.Cut(line, []byte("="))
		if !ok {
			continue
		}
		switch string(key) {
		case "READY":
			if string(value) == "1" {
				n.markReady()
			}
		case "STATUS":
			n.mu.Lock()
			n.status = string(value)
			n.mu.Unlock()
		case "WATCHDOG":
			if string(value) == "1" {
				select {
				case n.pings <- struct{}{}:
				default:
				}
			}
		}
	}
}

func (n *Notify) markReady() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.readyClosed {
		close(n.ready)
		n.readyClosed = true
	}
}

// removeSocket removes the socket file at path, if any, and returns err, or the
// removal's error when err is nil.
func removeSocket(path string, err error) error {
	if path == "" {
		return err
	}
	if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
		return fmt.Errorf("notify socket: %w", rerr)
	}
	return err
}
