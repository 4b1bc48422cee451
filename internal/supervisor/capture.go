package supervisor

import (
	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/service"
)

// Sink is one service's log as the supervisor uses it: where its output
// goes, and the file that holds it. The keeper writes it: its client hands
// out a Sink for each log it opened there.
type Sink interface {
	service.Output // Path: the file that holds it
	Close() error
}

// Capture opens a log sink per service.
type Capture interface {
	Open(path string, opts logs.Options) (Sink, error)
}
