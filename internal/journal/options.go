package journal

import "fmt"

// Defaults applied to zero Options fields.
const (
	DefaultMaxSize  = 10 << 20
	DefaultMaxFiles = 3
)

// Options controls rotation of the journal file. Zero fields take the defaults;
// negative values are rejected.
type Options struct {
	MaxSize  int64 // rotate before the file would exceed this many bytes; default 10 MiB
	MaxFiles int   // rotated files kept: path.1 .. path.N; default 3
}

func (o Options) withDefaults() (Options, error) {
	if o.MaxSize < 0 {
		return o, fmt.Errorf("%w: MaxSize %d is negative", ErrInvalid, o.MaxSize)
	}
	if o.MaxFiles < 0 {
		return o, fmt.Errorf("%w: MaxFiles %d is negative", ErrInvalid, o.MaxFiles)
	}
	if o.MaxSize == 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.MaxFiles == 0 {
		o.MaxFiles = DefaultMaxFiles
	}
	return o, nil
}
