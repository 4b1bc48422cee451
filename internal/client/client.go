// Package client is the typed client of the supervisor's control socket.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// ErrNotRunning means no supervisor answers on the socket.
var ErrNotRunning = errors.New("supervisor is not running")

// APIError is a non-2xx answer from the supervisor.
type APIError struct {
	Status int
	Code   string
	Msg    string
}

func (e *APIError) Error() string { return e.Msg }

// Client talks to one supervisor through its Unix socket.
type Client struct {
	socket string
	http   *http.Client
	wait   time.Duration // how long a request waits for a restarting core
}

// New returns a client for the socket at path.
func New(socket string) *Client {
	return &Client{socket: socket, http: &http.Client{Transport: socketTransport{socket}}, wait: DefaultCoreWait}
}

// Socket returns the socket path.
func (c *Client) Socket() string { return c.socket }

// Status returns the status of the named services (all when names is empty).
func (c *Client) Status(ctx context.Context, names ...string) (api.Status, error) {
	q := url.Values{}
	for _, n := range names {
		q.Add("name", n)
	}
	path := api.PathStatus
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var st api.Status
	err := c.do(ctx, http.MethodGet, path, nil, &st)
	return st, err
}

// Overview is Status without CPU and memory, which the supervisor then does
// not measure: for callers that read states or names only.
func (c *Client) Overview(ctx context.Context, names ...string) (api.Status, error) {
	q := url.Values{"usage": {"0"}}
	for _, n := range names {
		q.Add("name", n)
	}
	var st api.Status
	err := c.do(ctx, http.MethodGet, api.PathStatus+"?"+q.Encode(), nil, &st)
	return st, err
}

// Start starts services and waits for them.
func (c *Client) Start(ctx context.Context, names ...string) ([]api.Result, error) {
	return c.action(ctx, api.PathStart, names)
}

// Stop stops services and waits for them.
func (c *Client) Stop(ctx context.Context, names ...string) ([]api.Result, error) {
	return c.action(ctx, api.PathStop, names)
}

// Restart restarts services and waits for them.
func (c *Client) Restart(ctx context.Context, names ...string) ([]api.Result, error) {
	return c.action(ctx, api.PathRestart, names)
}

// Shutdown stops every service and the supervisor; it returns once services are stopped.
func (c *Client) Shutdown(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, api.PathShutdown, struct{}{}, nil)
}

// Upgrade asks the keeper to re-exec itself with binary ("" for its own
// path). It returns once the binary passed its check; the supervisor's core
// restarts right after.
func (c *Client) Upgrade(ctx context.Context, binary string) error {
	return c.do(ctx, http.MethodPost, api.PathUpgrade, api.Upgrade{Binary: binary}, nil)
}

func (c *Client) action(ctx context.Context, path string, names []string) ([]api.Result, error) {
	var res api.Results
	err := c.do(ctx, http.MethodPost, path, api.Names{Names: names}, &res)
	return res.Results, err
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://respawn"+path, rd)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.send(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := readBody(resp, 64<<20)
	if err != nil {
		return fmt.Errorf("read reply: %w", err)
	}
	if out == nil {
		return nil
	}
	if st, ok := out.(*api.Status); ok {
		err = api.DecodeStatus(data, st) // a status of hundreds of rows, quicker
	} else {
		err = json.Unmarshal(data, out)
	}
	if err != nil {
		return fmt.Errorf("decode reply: %w", err)
	}
	return nil
}

// readBody reads at most limit bytes of resp's body: into a buffer of its
// length when the answer says it (a status of hundreds of services is a
// few hundred KiB, which io.ReadAll would grow to by doubling).
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	n := resp.ContentLength
	if n < 0 || n > limit {
		return io.ReadAll(io.LimitReader(resp.Body, limit))
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(resp.Body, b); err != nil {
		return nil, err
	}
	return b, nil
}
