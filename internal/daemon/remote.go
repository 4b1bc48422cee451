//go:build linux || darwin || freebsd

package daemon

import (
	"context"
	"time"

	"github.com/respawn-sh/respawn/internal/keeper"
	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/proc"
	"github.com/respawn-sh/respawn/internal/service"
	"github.com/respawn-sh/respawn/internal/supervisor"
)

// remoteRunner spawns through the keeper.
type remoteRunner struct{ cl *keeper.Client }

// Spawn starts a helper (probe, stop command) whose pipes the core reads.
func (r remoteRunner) Spawn(spec proc.Spec) (service.Process, error) {
	p, err := r.cl.Spawn(spec, "")
	if err != nil {
		return nil, err
	}
	return remoteProcess{p}, nil
}

// SpawnOutput starts a service whose output the keeper writes to its log
// (none when out is nil: the core closes the pipes it gets).
func (r remoteRunner) SpawnOutput(spec proc.Spec, out service.Output) (service.Process, error) {
	sink, ok := out.(*remoteSink)
	if !ok {
		return r.Spawn(spec)
	}
	p, err := r.cl.Spawn(spec, sink.path)
	if err != nil {
		return nil, err
	}
	return remoteProcess{p}, nil
}

func (r remoteRunner) Forget(name string) error { return r.cl.Forget(name) }

// usageWait bounds a status's wait for the keeper's measurements.
const usageWait = 5 * time.Second

// Usages measures the keeper's processes in a round trip per few hundred,
// and the others (watched, not the keeper's) one by one.
func (r remoteRunner) Usages(ps []service.Process) []supervisor.Usage {
	out := make([]supervisor.Usage, len(ps))
	var pids []int
	var at []int
	for i, p := range ps {
		switch p := p.(type) {
		case remoteProcess:
			pids = append(pids, p.Pid())
			at = append(at, i)
		case interface {
			Usage() (time.Duration, uint64, error)
		}:
			cpu, mem, err := p.Usage()
			out[i] = supervisor.Usage{CPU: cpu, Mem: mem, OK: err == nil}
		}
	}
	if len(pids) == 0 {
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), usageWait)
	defer cancel()
	us, err := r.cl.Usages(ctx, pids)
	if err != nil {
		return out // not measured: status shows none
	}
	for j, u := range us {
		out[at[j]] = supervisor.Usage{CPU: u.CPU, Mem: u.Mem, OK: u.Err == nil}
	}
	return out
}

func (r remoteRunner) Adopt(name string, pid int) (service.Process, error) {
	p, err := r.cl.Adopt(name, pid)
	if err != nil {
		return nil, err
	}
	return remoteProcess{p}, nil
}

// Watch follows a process that is not ours: the core watches it itself (a
// pidfd needs no parent), and a new core finds it again.
func (r remoteRunner) Watch(name string, pid int) (service.Process, error) {
	p, err := proc.WatchPid(name, pid)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// remoteProcess is a keeper process as the service layer sees it.
type remoteProcess struct{ *keeper.Process }

// Output gives the run's output, which the keeper captured, when it did.
func (p remoteProcess) Output() service.RunOutput { return p.Process }

// remoteCapture opens logs in the keeper.
type remoteCapture struct{ cl *keeper.Client }

// Open opens the log at path in the keeper, which knows it by that path: one
// log per file.
func (c remoteCapture) Open(path string, opts logs.Options) (supervisor.Sink, error) {
	if err := c.cl.OpenSink(path, path, opts); err != nil {
		return nil, err
	}
	return &remoteSink{cl: c.cl, path: path}, nil
}

// remoteSink is a service's log written by the keeper.
type remoteSink struct {
	cl   *keeper.Client
	path string
}

func (s *remoteSink) Path() string { return s.path }

// Dropped returns how many lines the keeper could not write to this log.
func (s *remoteSink) Dropped() uint64 { return s.cl.LogDropped(s.path) }

func (s *remoteSink) Close() error { return s.cl.CloseSink(s.path) }

// keeperSockets are the services' listening sockets, held by the keeper.
type keeperSockets struct {
	cl interface {
		Listen(keeper.ListenSpec) error
		Unlisten(service, addr string) error
	}
	held []keeper.ListenSpec
}

// socketsOf returns the keeper's sockets for the supervisor, nil when the
// link cannot hold them (a fake keeper in tests).
func socketsOf(kl keeperLink) supervisor.Sockets {
	cl, ok := kl.(interface {
		Listen(keeper.ListenSpec) error
		Unlisten(service, addr string) error
	})
	if !ok {
		return nil
	}
	return keeperSockets{cl: cl, held: kl.Hello().Listeners}
}

func (k keeperSockets) Listen(s supervisor.Socket) error {
	return k.cl.Listen(keeper.ListenSpec{Service: s.Service, Addr: s.Addr, Backlog: s.Backlog, Mode: s.Mode, User: s.Owner, Group: s.Group})
}

func (k keeperSockets) Unlisten(service, addr string) error { return k.cl.Unlisten(service, addr) }

func (k keeperSockets) Held() []supervisor.Socket {
	out := make([]supervisor.Socket, len(k.held))
	for i, h := range k.held {
		out[i] = supervisor.Socket{Service: h.Service, Addr: h.Addr, Backlog: h.Backlog, Mode: h.Mode, Owner: h.User, Group: h.Group}
	}
	return out
}
