//go:build !linux && !darwin && !freebsd

package keeper

import (
	"errors"
	"fmt"
)

// Check is `respawn __keeper-check SAMPLE`: no keeper runs on this system,
// so no handover can be read.
func Check(string) (string, error) {
	return "", fmt.Errorf("the keeper needs Linux: %w", errors.ErrUnsupported)
}
