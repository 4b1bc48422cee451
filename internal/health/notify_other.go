//go:build !linux

package health

import (
	"context"
	"errors"
	"fmt"
)

// ListenNotify is Linux-only: elsewhere a datagram does not tell its sender's pid.
func ListenNotify(path string, belongs func(ctx context.Context, pid int) error) (*Notify, error) {
	return nil, fmt.Errorf("notify socket %s: %w", path, errors.ErrUnsupported)
}
