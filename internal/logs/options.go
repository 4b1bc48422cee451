package logs

import "fmt"

// Defaults applied to zero Options fields.
const (
	DefaultMaxSize  = 10 << 20
	DefaultMaxFiles = 5
)

// Options controls rotation of one Sink's file. Zero fields take the defaults; negative
// values are rejected. Its JSON form is stable: a handover file carries it across exec.
type Options struct {
	MaxSize  int64 `json:"max_size"`  // rotate when the file would exceed this many bytes; default 10 MiB
	MaxFiles int   `json:"max_files"` // rotated files kept: name.log.1 .. name.log.N; default 5
}

func (o Options) withDefaults() (Options, error) {
	return o.WithDefaults(DefaultMaxSize, DefaultMaxFiles)
}

// WithDefaults returns o with its zero fields set to maxSize and maxFiles; a
// negative field is an error wrapping ErrInvalid. The journal, which rotates
// like a log with defaults of its own, shares it.
func (o Options) WithDefaults(maxSize int64, maxFiles int) (Options, error) {
	if o.MaxSize < 0 {
		return o, fmt.Errorf("%w: MaxSize %d is negative", ErrInvalid, o.MaxSize)
	}
	if o.MaxFiles < 0 {
		return o, fmt.Errorf("%w: MaxFiles %d is negative", ErrInvalid, o.MaxFiles)
	}
	if o.MaxSize == 0 {
		o.MaxSize = maxSize
	}
	if o.MaxFiles == 0 {
		o.MaxFiles = maxFiles
	}
	return o, nil
}
