package service

import "fmt"

// Kind is how the actor treats a service's process. The supervisor maps the
// config's kinds onto it.
type Kind uint8

const (
	KindProcess  Kind = iota // runs until stopped; an exit is a failure to handle
	KindOneshot              // runs to completion; exit 0 ends in Exited
	KindForking              // a launcher that leaves a daemon behind, adopted by its pidfile
	KindExternal             // found running, or launched, outside respawn's children
	numKinds
)

var kindNames = [numKinds]string{
	KindProcess:  "process",
	KindOneshot:  "oneshot",
	KindForking:  "forking",
	KindExternal: "external",
}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind returns the kind named s (as the config spells it).
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown service kind %q", s)
}

// Health is what the liveness checks last said of the current run.
type Health uint8

const (
	HealthUnknown Health = iota // no liveness check, or none passed or failed yet
	Healthy
	Unhealthy
	numHealths
)

var healthNames = [numHealths]string{
	HealthUnknown: "unknown",
	Healthy:       "healthy",
	Unhealthy:     "unhealthy",
}

func (h Health) String() string {
	if h < numHealths {
		return healthNames[h]
	}
	return fmt.Sprintf("Health(%d)", uint8(h))
}

// MarshalText renders the name, so saved state carries "healthy".
func (h Health) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText parses a name; an empty one (state saved without it) is
// HealthUnknown.
func (h *Health) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*h = HealthUnknown
		return nil
	}
	for i, n := range healthNames {
		if n == string(b) {
			*h = Health(i)
			return nil
		}
	}
	return fmt.Errorf("unknown health %q", b)
}
