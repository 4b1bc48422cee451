package service

import (
	"os"
	"regexp"

	"github.com/respawn-sh/respawn/internal/logs"
)

// RunOutput is one run's output as the service layer reads it.
type RunOutput interface {
	Match(re *regexp.Regexp) <-chan struct{} // closed once a line of the run matches (log readiness)
	Drained() <-chan struct{}                // closed once the run's output is all written
	Lines() []logs.Line                      // the run's last lines; meaningful once Drained
}

// Output names where a service's output goes: its log. The Runner that
// spawns the service captures the output there (the keeper, which holds the
// pipes and writes the file, so that a restart of the core loses no line).
type Output interface {
	Path() string
}

// outputProcess is a Process whose output is captured where it runs (the
// keeper), not through pipes handed to the actor.
type outputProcess interface {
	Output() RunOutput
}

// outputOf returns a run's output as its process reports it; nil when the
// runner captures none (no log), whose pipes, if any, are closed so that a
// service writing to them is never blocked by a reader that does not exist.
func outputOf(p Process) RunOutput {
	if op, ok := p.(outputProcess); ok {
		if out := op.Output(); out != nil {
			return out
		}
	}
	for _, f := range []*os.File{p.Stdout(), p.Stderr()} {
		if f != nil {
			_ = f.Close()
		}
	}
	return nil
}
