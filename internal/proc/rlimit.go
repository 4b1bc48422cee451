package proc

import (
	"fmt"
	"math"
)

// rlimitResource maps a limit name (nofile, nproc, ...) to this OS's resource number.
func rlimitResource(name string) (int, bool) {
	r, ok := rlimitResources[name]
	return r, ok
}

// checkRlimits rejects what the trampoline would fail on anyway, before forking.
func checkRlimits(limits []Rlimit) error {
	for _, r := range limits {
		if _, ok := rlimitResource(r.Resource); !ok {
			return &SpawnError{Op: "rlimit", Path: r.Resource, Err: ErrUnknownRlimit}
		}
		if r.Soft > r.Hard {
			return &SpawnError{Op: "rlimit", Path: r.Resource,
				Err: fmt.Errorf("%w (%d > %d)", ErrInvalidRlimit, r.Soft, r.Hard)}
		}
	}
	return nil
}

// setRlimitValue stores v in an rlimit field, which is int64 on the BSDs:
// there, anything beyond int64 (our "unlimited") becomes RLIM_INFINITY.
func setRlimitValue[T int64 | uint64](field *T, v uint64) {
	*field = T(v)
	if *field < 0 {
		*field = math.MaxInt64
	}
}
