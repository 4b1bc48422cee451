// Package supervisor owns the set of services: it starts them, routes commands to them and stops them in order.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/service"
	"github.com/respawn-sh/respawn/internal/version"
)

// Capture opens a log sink per service.
type Capture interface {
	Open(path string, opts logs.Options) (*logs.Sink, error)
}

// Options are the supervisor's collaborators.
type Options struct {
	Logger      *slog.Logger
	Runner      service.Runner
	Capture     Capture
	Containment string
	// Environ is the base environment of every service (the supervisor's own).
	Environ []string
	// Rand returns numbers in [0,1) for backoff jitter.
	Rand func() float64
}

// UnknownServiceError names services a command referred to that do not exist.
type UnknownServiceError struct{ Names []string }

func (e *UnknownServiceError) Error() string {
	return "unknown service: " + strings.Join(e.Names, ", ")
}

// ErrShuttingDown is returned for commands that arrive while the supervisor stops.
var ErrShuttingDown = errors.New("supervisor is shutting down")

// Supervisor owns the services of one config.
type Supervisor struct {
	cfg       *config.Config
	opts      Options
	log       *slog.Logger
	services  []*service.Service // in config order
	byName    map[string]*service.Service
	specs     map[string]*config.Service
	sinks     []*logs.Sink
	startedAt time.Time

	cancel   context.CancelFunc
	actors   sync.WaitGroup
	stopOnce sync.Once
	stopped  chan struct{} // closed when Shutdown has stopped every service
	closing  chan struct{} // closed when Shutdown begins
}

// New builds the services of cfg without starting anything.
func New(cfg *config.Config, opts Options) (*Supervisor, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Supervisor{
		cfg:       cfg,
		opts:      opts,
		log:       opts.Logger,
		byName:    make(map[string]*service.Service, len(cfg.Services)),
		specs:     make(map[string]*config.Service, len(cfg.Services)),
		startedAt: time.Now(),
		stopped:   make(chan struct{}),
		closing:   make(chan struct{}),
	}
	for _, sc := range cfg.Services {
		scfg, err := serviceConfig(sc, opts.Environ)
		if err != nil {
			s.closeSinks()
			return nil, fmt.Errorf("service %s: %w", sc.Name, err)
		}
		var out service.Output
		if opts.Capture != nil {
			sink, err := opts.Capture.Open(filepath.Join(cfg.Supervisor.StateDir, "logs", sc.Name+".log"),
				logs.Options{MaxSize: sc.Logs.MaxSize, MaxFiles: sc.Logs.MaxFiles})
			if err != nil {
				s.closeSinks()
				return nil, fmt.Errorf("service %s: open log: %w", sc.Name, err)
			}
			s.sinks = append(s.sinks, sink)
			out = sink
		}
		svc := service.New(scfg, service.Options{
			Runner:      opts.Runner,
			Output:      out,
			Logger:      s.log,
			Rand:        opts.Rand,
			Containment: opts.Containment,
		})
		s.services = append(s.services, svc)
		s.byName[sc.Name] = svc
		s.specs[sc.Name] = sc
	}
	return s, nil
}

// Start runs every service's actor and starts the services marked autostart.
// It returns at once; services come up in the background.
func (s *Supervisor) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, svc := range s.services {
		s.actors.Add(1)
		go func() {
			defer s.actors.Done()
			svc.Run(ctx)
		}()
	}
	s.log.Info("supervisor started", "services", len(s.services), "config", s.cfg.Path)
	for _, name := range s.cfg.Order() {
		if !s.specs[name].Autostart {
			continue
		}
		if _, err := s.byName[name].Start(ctx); err != nil {
			s.log.Error("autostart", "service", name, "err", err)
		}
	}
}

// Done is closed once Shutdown has stopped every service.
func (s *Supervisor) Done() <-chan struct{} { return s.stopped }

// Shutdown stops every service and then the actors. Stops are issued in reverse
// start order and proceed in parallel, each bounded by its own stop timeout.
// It is safe to call more than once; later calls wait for the first.
func (s *Supervisor) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		close(s.closing)
		s.log.Info("supervisor stopping")
		order := s.cfg.Order()
		slices.Reverse(order)
		results := s.act(ctx, order, actStop)
		for _, r := range results {
			if r.Error != "" {
				s.log.Error("stop", "service", r.Name, "err", r.Error)
			}
		}
		if s.cancel != nil {
			s.cancel()
		}
		s.actors.Wait()
		s.closeSinks()
		s.log.Info("supervisor stopped")
		close(s.stopped)
	})
	select {
	case <-s.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Supervisor) closeSinks() {
	for _, sink := range s.sinks {
		if err := sink.Close(); err != nil {
			s.log.Warn("close log", "path", sink.Path(), "err", err)
		}
	}
	s.sinks = nil
}

// Status returns the supervisor's identity and one row per named service (all
// when names is empty), in config order.
func (s *Supervisor) Status(names []string) (api.Status, error) {
	list, err := s.resolve(names)
	if err != nil {
		return api.Status{}, err
	}
	st := api.Status{
		Supervisor: api.Supervisor{
			Pid:         os.Getpid(),
			CorePid:     os.Getpid(),
			Version:     version.Get().Version,
			Config:      s.cfg.Path,
			StateDir:    s.cfg.Supervisor.StateDir,
			StartedAt:   s.startedAt,
			Containment: s.opts.Containment,
		},
		Services: make([]api.Service, 0, len(list)),
	}
	for _, svc := range list {
		st.Services = append(st.Services, statusRow(svc.Snapshot()))
	}
	return st, nil
}

// StartServices starts the named services and waits until each is running (a
// oneshot: exited) or has failed.
func (s *Supervisor) StartServices(ctx context.Context, names []string) ([]api.Result, error) {
	return s.command(ctx, names, actStart)
}

// StopServices stops the named services and waits until each is down.
func (s *Supervisor) StopServices(ctx context.Context, names []string) ([]api.Result, error) {
	return s.command(ctx, names, actStop)
}

// RestartServices restarts the named services and waits until each runs a new incarnation.
func (s *Supervisor) RestartServices(ctx context.Context, names []string) ([]api.Result, error) {
	return s.command(ctx, names, actRestart)
}

func (s *Supervisor) command(ctx context.Context, names []string, a action) ([]api.Result, error) {
	select {
	case <-s.closing:
		return nil, ErrShuttingDown
	default:
	}
	list, err := s.resolve(names)
	if err != nil {
		return nil, err
	}
	ordered := make([]string, len(list))
	for i, svc := range list {
		ordered[i] = svc.Name()
	}
	return s.act(ctx, ordered, a), nil
}

// resolve maps names to services; empty or "all" means every service.
func (s *Supervisor) resolve(names []string) ([]*service.Service, error) {
	if len(names) == 0 || slices.Contains(names, "all") {
		return s.services, nil
	}
	var unknown []string
	seen := make(map[string]bool, len(names))
	var list []*service.Service
	for _, n := range names {
		svc, ok := s.byName[n]
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		if !seen[n] {
			seen[n] = true
			list = append(list, svc)
		}
	}
	if len(unknown) > 0 {
		return nil, &UnknownServiceError{Names: unknown}
	}
	// Config order, whatever order the caller named them in.
	slices.SortFunc(list, func(a, b *service.Service) int {
		return s.specs[a.Name()].Line - s.specs[b.Name()].Line
	})
	return list, nil
}
