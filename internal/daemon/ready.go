package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/respawn-sh/respawn/internal/instance"
)

// readyPipe is how a supervisor started by `up -d` tells the waiting CLI
// that it is ready or why it failed. Without `-d` it does nothing.
type readyPipe struct{ f *os.File }

// openReadyPipe takes the ready pipe named by the environment and removes the
// variable, so that no service inherits it.
func openReadyPipe() (*readyPipe, error) {
	v, ok := os.LookupEnv(instance.ReadyFDEnv)
	if !ok {
		return &readyPipe{}, nil
	}
	if err := os.Unsetenv(instance.ReadyFDEnv); err != nil {
		return &readyPipe{}, fmt.Errorf("unset %s: %w", instance.ReadyFDEnv, err)
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return &readyPipe{}, fmt.Errorf("%s=%q is not an inherited fd", instance.ReadyFDEnv, v)
	}
	f := os.NewFile(uintptr(fd), "ready-pipe")
	if f == nil {
		return &readyPipe{}, fmt.Errorf("%s=%q is not an open fd", instance.ReadyFDEnv, v)
	}
	return &readyPipe{f: f}, nil
}

// report sends the outcome of the start (nil: ready) once; later calls do nothing.
func (r *readyPipe) report(err error, log *slog.Logger) {
	if r.f == nil {
		return
	}
	if werr := instance.WriteReady(r.f, err); werr != nil && log != nil {
		log.Warn("report readiness to up -d", "err", werr)
	}
	r.f.Close()
	r.f = nil
}
