package journal

import (
	"fmt"

	"github.com/respawn-sh/respawn/internal/logs"
)

// Defaults applied to zero Options fields.
const (
	DefaultMaxSize  = 10 << 20
	DefaultMaxFiles = 3
)

// Options controls rotation of the journal file, as logs.Options does a
// log's: rotate before the file would exceed MaxSize bytes (default 10 MiB),
// keep MaxFiles rotated files path.1 .. path.N (default 3). Zero fields take
// the defaults; negative values are rejected.
type Options = logs.Options

func withDefaults(o Options) (Options, error) {
	o, err := o.WithDefaults(DefaultMaxSize, DefaultMaxFiles)
	if err != nil {
		return o, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return o, nil
}
