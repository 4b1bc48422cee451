// Package tui is respawn top: a full-screen view of the services over the control API.
package tui

import (
	"context"

	"github.com/respawn-sh/respawn/internal/api"
)

// Backend is what top asks of the supervisor; *client.Client is one. Tests
// give the model a fake.
type Backend interface {
	Status(ctx context.Context, names ...string) (api.Status, error)
	Start(ctx context.Context, names ...string) ([]api.Result, error)
	Stop(ctx context.Context, names ...string) ([]api.Result, error)
	Restart(ctx context.Context, names ...string) ([]api.Result, error)
	Why(ctx context.Context, name string) (api.Why, error)
	Events(ctx context.Context, since string, n int, follow bool, emit func(api.Event) error) error
	Logs(ctx context.Context, names []string, n int, since string, follow bool, emit func(api.LogLine) error) error
}
