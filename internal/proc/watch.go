package proc

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// pidWatch holds the pidfd of a watched process until it exits.
type pidWatch struct {
	f  *os.File
	rc syscall.RawConn

	mu     sync.Mutex // orders signals before the close of f
	closed bool
}

// close releases the pidfd; signals after it report os.ErrProcessDone.
func (w *pidWatch) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	w.f.Close()
}

// signalWatched sends sig to the watched process alone: it has no tree of ours.
func (p *Process) signalWatched(sig syscall.Signal) error {
	if p.reaped() {
		return os.ErrProcessDone
	}
	err := p.watch.signal(sig)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrProcessDone):
		return os.ErrProcessDone
	default:
		return fmt.Errorf("signal %s (pid %d): %w", p.name, p.pid, err)
	}
}

// closedNow reports whether the pidfd was released.
func (w *pidWatch) closedNow() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}
