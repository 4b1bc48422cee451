package service

import (
	"os"
	"regexp"
	"sync"

	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/proc"
)

// RunOutput is one run's output as the service layer reads it.
type RunOutput interface {
	Match(re *regexp.Regexp) <-chan struct{} // closed once a line of the run matches (log readiness)
	Drained() <-chan struct{}                // closed once the run's output is all written
	Lines() []logs.Line                      // the run's last lines; meaningful once Drained
}

// OutputSpawner is a Runner that captures a process's output itself, into out.
// The processes it returns should have an Output() RunOutput method, through
// which the actor reads the run's output; their Stdout and Stderr are nil.
type OutputSpawner interface {
	SpawnOutput(spec proc.Spec, out Output) (Process, error)
}

// outputProcess is a Process whose output is captured where it runs (the
// keeper), not through pipes handed to the actor.
type outputProcess interface {
	Output() RunOutput
}

// localOutput is a run's output captured in this process: its pipes are
// attached to the service's Output, and its last lines kept in a Tail.
type localOutput struct {
	tail *logs.Tail

	once    sync.Once
	streams []<-chan struct{} // one per attached stream, closed at its EOF
	drained chan struct{}
}

func newLocalOutput() *localOutput {
	return &localOutput{tail: logs.NewTail(tailLines), drained: make(chan struct{})}
}

// attach feeds f to out (nil: f is closed and nothing is kept).
func (o *localOutput) attach(out Output, stream logs.Stream, f *os.File) error {
	if f == nil {
		return nil
	}
	if out == nil {
		return f.Close()
	}
	done, err := out.AttachTail(stream, f, o.tail)
	if err != nil {
		return err
	}
	o.streams = append(o.streams, done)
	return nil
}

func (o *localOutput) Match(re *regexp.Regexp) <-chan struct{} { return o.tail.Match(re) }

func (o *localOutput) Lines() []logs.Line { return o.tail.Lines() }

// Drained waits for the streams only once asked, so a run that never ends
// holds no goroutine for it. Streams are attached before the output is
// handed out, so the list is fixed by then.
func (o *localOutput) Drained() <-chan struct{} {
	o.once.Do(func() {
		streams := o.streams
		if len(streams) == 0 {
			close(o.drained)
			return
		}
		go func() {
			for _, d := range streams {
				<-d
			}
			close(o.drained)
		}()
	})
	return o.drained
}
