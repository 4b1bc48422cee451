package config

import (
	"regexp"
	"time"

	"go.yaml.in/yaml/v3"
)

// layer holds the service keys written in one place: the defaults section
// or one service. Each field remembers the node it came from, so merging a
// service over the defaults is field by field, which is exactly "nested
// mappings merge key by key", and a check that spans two fields can point
// at the one the user wrote.
type layer struct {
	defaults bool

	kind field[Kind]
	// kindWritten tells a kind left to the default from one already
	// reported as wrong, so a dependency check does not guess at it.
	kindWritten bool
	command     field[rawCommand]
	// commandWritten tells a missing command from one already reported as wrong.
	commandWritten bool
	cwd            field[string]
	env            map[string]envEntry
	envFiles       field[[]*envFile]
	user           field[credentials]
	serviceGroup   field[string]
	umask          field[uint32]
	rlimits        map[string]field[Rlimit]
	autostart      field[bool]

	policy       field[RestartPolicy]
	successCodes field[[]int]
	initial      field[time.Duration]
	max          field[time.Duration]
	factor       field[float64]
	jitter       field[float64]
	burst        field[int]
	window       field[time.Duration]
	resetAfter   field[time.Duration]
	cooldown     field[time.Duration]

	signal      field[string]
	timeout     field[time.Duration]
	stopCommand field[rawCommand]

	// The keys that tie a forking or external service to its process.
	// They are checked against the kind once the service is merged with
	// the defaults, which may set the kind.
	pidfile field[string] // unexpanded
	match   field[*regexp.Regexp]
	unit    field[string]
	start   field[rawCommand]
	// idKeys lists the identifying keys written (pidfile, match, unit),
	// good or not, so that "exactly one" is checked even past a bad value.
	idKeys []idKey

	maxSize  field[int64]
	maxFiles field[int]

	deps field[[]rawDep]

	schedule field[*Schedule]
	replicas field[int]

	ready, health *probeLayer

	listen  field[[]listenEntry]
	backlog field[int]

	strategy       field[RestartStrategy]
	maxUnavailable field[int]
}

func newLayer(defaults bool) *layer {
	return &layer{
		defaults: defaults,
		env:      map[string]envEntry{},
		rlimits:  map[string]field[Rlimit]{},
		ready:    &probeLayer{},
		health:   &probeLayer{health: true},
	}
}

// field is one optional value and where it was written.
type field[T any] struct {
	val T
	at  *yaml.Node // nil when not written
}

func (f *field[T]) put(v T, at *yaml.Node) {
	f.val, f.at = v, resolve(at)
}

// over returns own if it was written, else base if it was, else fallback
// with no position.
func over[T any](own, base field[T], fallback T) field[T] {
	switch {
	case own.at != nil:
		return own
	case base.at != nil:
		return base
	}
	return field[T]{val: fallback}
}

// rawCommand is a command as written; it is expanded and split per service,
// once the service's env_file variables are known.
type rawCommand struct {
	str  *yaml.Node   // the string form
	list []*yaml.Node // the list form
}

// envEntry is one env value as written, expanded per service.
type envEntry struct {
	raw string
	at  *yaml.Node
}

// Built-in defaults, from the product contract.
const (
	defaultInitial    = 100 * time.Millisecond
	defaultMax        = 30 * time.Second
	defaultFactor     = 2.0
	defaultJitter     = 0.1
	defaultBurst      = 10
	defaultWindow     = 5 * time.Minute
	defaultResetAfter = 30 * time.Second
	defaultCooldown   = 5 * time.Minute
	defaultSignal     = "TERM"
	defaultTimeout    = 10 * time.Second
	defaultMaxSize    = "10MB"
	defaultMaxFiles   = 5
)
