package supervisor

import (
	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/service"
)

// Sink is one service's log as the supervisor uses it: where its output
// goes, and the file that holds it. A *logs.Sink is one; a keeper client can
// hand one whose file is written by another process.
type Sink interface {
	service.Output
	Path() string
	Close() error
}

// Capture opens a log sink per service.
type Capture interface {
	Open(path string, opts logs.Options) (Sink, error)
}

// LocalCapture is a Capture whose sinks are written by c, in this process.
func LocalCapture(c *logs.Capture) Capture { return localCapture{c} }

type localCapture struct{ c *logs.Capture }

func (l localCapture) Open(path string, opts logs.Options) (Sink, error) {
	sink, err := l.c.Open(path, opts)
	if err != nil {
		return nil, err // not a nil *logs.Sink in a non-nil Sink
	}
	return sink, nil
}
