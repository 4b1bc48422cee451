//go:build freebsd && !amd64 && !arm64 && !riscv64

package observe

import "fmt"

// decodeKinfos would read kinfo_procs; their layout is mirrored for 64-bit
// systems only.
func decodeKinfos(b []byte, boot int64) ([]Stat, error) {
	return nil, fmt.Errorf("kinfo_proc on this architecture: %w", ErrLayout)
}
