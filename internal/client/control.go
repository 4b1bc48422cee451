package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/respawn-sh/respawn/internal/api"
)

// Signal sends a signal (TERM, SIGTERM or 15) to services.
func (c *Client) Signal(ctx context.Context, sig string, names ...string) ([]api.Result, error) {
	var res api.Results
	err := c.do(ctx, http.MethodPost, api.PathSignal, api.Signal{Signal: sig, Names: names}, &res)
	return res.Results, err
}

// Why explains a service.
func (c *Client) Why(ctx context.Context, name string) (api.Why, error) {
	var w api.Why
	err := c.do(ctx, http.MethodGet, api.PathWhy+"?name="+url.QueryEscape(name), nil, &w)
	return w, err
}

// Reload re-reads the config and applies (or, dry, only plans) the difference.
func (c *Client) Reload(ctx context.Context, dryRun bool) (api.Plan, error) {
	var p api.Plan
	err := c.do(ctx, http.MethodPost, api.PathReload, api.Reload{DryRun: dryRun}, &p)
	return p, err
}
