//go:build !unix

package cleanup

import (
	"context"
	"errors"
	"fmt"
)

// KillRecorded needs the start times of processes to tell recorded
// processes from strangers that reused their pids; elsewhere it fails with an
// error wrapping errors.ErrUnsupported (unless recs is empty).
func KillRecorded(ctx context.Context, recs []Record) (killed int, err error) {
	if len(recs) == 0 {
		return 0, nil
	}
	return 0, fmt.Errorf("kill recorded processes: %w", errors.ErrUnsupported)
}
