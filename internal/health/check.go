// Package health runs a service's readiness and liveness probes: exec, http, tcp, a
// regex on its output, and the sd_notify protocol.
package health

import (
	"context"
	"fmt"
	"net"
	"net/http"
)

// Check is one probe attempt; nil means pass. It must honour ctx (the timeout).
type Check func(ctx context.Context) error

// Runner runs argv to completion and returns nil on exit 0, or an error naming the exit
// code. The supervisor provides it, because every process it starts goes through its
// own process manager.
type Runner func(ctx context.Context, argv []string) error

// StatusError is an HTTP probe's answer outside 2xx and 3xx.
type StatusError struct {
	URL    string
	Status string // as the server sent it, e.g. "503 Service Unavailable"
	Code   int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: %s", e.URL, e.Status)
}

// HTTP returns a Check that GETs url and passes on 2xx and 3xx. Redirects are not
// followed, since a redirect already says the server answers; no proxy is used, since
// the probe is meant for the service itself; and no connection is kept between tries,
// so an idle probe holds no socket open on the service.
func HTTP(url string) Check {
	client := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("%w: http probe: %w", ErrInvalid, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("http probe: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 399 {
			return &StatusError{URL: url, Status: resp.Status, Code: resp.StatusCode}
		}
		return nil
	}
}

// TCP returns a Check that passes when a TCP connection to addr (host:port) opens.
func TCP(addr string) Check {
	return func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("tcp probe: %w", err)
		}
		return conn.Close()
	}
}

// Exec returns a Check that runs argv through run and passes on exit 0.
func Exec(run Runner, argv []string) Check {
	argv = append([]string(nil), argv...) // the caller's slice may change later
	return func(ctx context.Context) error {
		if run == nil || len(argv) == 0 || argv[0] == "" {
			return fmt.Errorf("%w: exec probe needs a runner and a command", ErrInvalid)
		}
		if err := run(ctx, argv); err != nil {
			return fmt.Errorf("exec probe %s: %w", argv[0], err)
		}
		return nil
	}
}
