package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/instance"
)

// DefaultCoreWait bounds how long a request waits for the supervisor's core
// while its keeper lives: a core restarted after a crash answers well within it.
const DefaultCoreWait = 5 * time.Second

// The pause between attempts while the core restarts: short while a core
// is starting, longer when the keeper says the next is seconds away.
const (
	retryEvery = 50 * time.Millisecond
	retryLater = 250 * time.Millisecond
)

// keeperPid returns the pid of the supervisor's keeper, if one runs: the pid
// the lock file names, alive. The keeper keeps its pid for life, across core
// restarts and upgrades.
func (c *Client) keeperPid() (int, bool) {
	pid, _, alive := c.holder()
	return pid, alive
}

// Holder returns the pid and config file of the supervisor that holds the
// socket's state dir, from its lock file, and whether that supervisor runs.
func (c *Client) Holder() (pid int, config string, running bool) {
	return c.holder()
}

func (c *Client) holder() (int, string, bool) {
	f, err := os.OpenFile(filepath.Join(filepath.Dir(c.socket), instance.LockName), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return 0, "", false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return 0, "", false
	}
	b := make([]byte, 4096)
	n, _ := io.ReadFull(f, b)
	h, ok := instance.ParseHolder(b[:n])
	if !ok {
		return 0, "", false
	}
	return h.Pid, h.Config, processAlive(h.Pid, h.Start, fi.ModTime())
}

// waiter decides, attempt after attempt, whether a failed request is worth
// another try: only while the keeper lives and the wait is not over.
type waiter struct {
	c     *Client
	req   *http.Request
	until time.Time
}

// again reports whether to try again after failure err (from the transport,
// or an *APIError), and what to report otherwise.
func (w *waiter) again(ctx context.Context, err error, retryAfter int) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	c := w.c
	var ae *APIError
	switch {
	case errors.As(err, &ae):
		// The keeper answers while no core does; it says whether one is due.
		if ae.Code != api.CodeCoreRestarting || retryAfter < 0 || time.Now().Add(time.Duration(retryAfter)*time.Second).After(w.deadline()) {
			return false, err
		}
	case refused(err):
		pid, alive := c.keeperPid()
		if !alive {
			return false, fmt.Errorf("%w (no socket at %s)", ErrNotRunning, c.socket)
		}
		if !time.Now().Before(w.deadline()) {
			return false, fmt.Errorf("the supervisor (keeper pid %d) runs, but its core did not answer on %s within %s", pid, c.socket, c.wait)
		}
	case dropped(err):
		// The core died with the request in its queue, or while on it.
		pid, alive := c.keeperPid()
		if !alive {
			return false, fmt.Errorf("%w (its keeper is gone)", ErrNotRunning)
		}
		if !safeToRepeat(w.req) {
			return false, fmt.Errorf("control socket %s: %w (the supervisor's core ended during the request: check whether it was done)", c.socket, err)
		}
		if !time.Now().Before(w.deadline()) {
			return false, fmt.Errorf("the supervisor (keeper pid %d) runs, but its core did not answer on %s within %s", pid, c.socket, c.wait)
		}
	default:
		return false, fmt.Errorf("control socket %s: %w", c.socket, err)
	}
	pause := retryEvery
	if retryAfter > 0 {
		pause = retryLater // a core is due in seconds: no need to ask as often
	}
	t := time.NewTimer(pause)
	defer t.Stop()
	select {
	case <-t.C:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

func (w *waiter) deadline() time.Time {
	if w.until.IsZero() {
		w.until = time.Now().Add(w.c.wait)
	}
	return w.until
}

// refused: nobody listens on the socket (none there, or a dead core's).
func refused(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}

// dropped: the connection ended before an answer came.
func dropped(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// safeToRepeat: requests whose effect is the same when a core that may have
// begun them died and the next one gets them again.
func safeToRepeat(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodPost:
		switch req.URL.Path {
		case api.PathStart, api.PathStop, api.PathShutdown:
			return true
		}
	}
	return false
}

// retryAfter reads a Retry-After in seconds; -1 when absent or not a number.
func retryAfter(resp *http.Response) int {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return -1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return -1
	}
	return n
}
