package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/service"
)

// ReloadRefusedError says why a valid config cannot be applied to the running
// supervisor (it changes something only a new `up` can change).
type ReloadRefusedError struct{ Reason string }

func (e *ReloadRefusedError) Error() string { return "reload refused: " + e.Reason }

// APICode classifies the refusal for the API: a config problem (422).
func (e *ReloadRefusedError) APICode() string { return api.CodeConfig }

// ConfigError is a reload's config file with mistakes in it (a
// config.ErrorList, wrapped): nothing was changed.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// APICode classifies the error for the API: a config problem (422).
func (e *ConfigError) APICode() string { return api.CodeConfig }

// change is what a reload does to one service.
type change uint8

const (
	unchanged change = iota
	update           // settings that apply without a restart
	restart          // the process would differ: stop it and start the new one
)

// diff classifies how a service's definition changed. Anything that shapes the
// process (command, environment, working dir, credentials, limits, kind, log
// settings) needs a restart; restart policy, stop settings, autostart,
// dependencies (read by the gate at each spawn), the schedule and the probes
// (they apply from the next run) do not.
func diff(old, cur *config.Service) change {
	o, n := *old, *cur
	// Where a service stands in the file is not what it is.
	o.Line, n.Line = 0, 0
	o.At, n.At = config.KeyPositions{}, config.KeyPositions{}
	if reflect.DeepEqual(o, n) {
		return unchanged
	}
	o.Restart, o.Stop, o.Autostart, o.DependsOn, o.Schedule = n.Restart, n.Stop, n.Autostart, n.DependsOn, n.Schedule
	// The keeper applies a socket's backlog, mode and owner to the open
	// socket; only its address and name reach the process.
	o.Backlog = n.Backlog
	if len(o.Listen) == len(n.Listen) {
		same := true
		for i := range o.Listen {
			same = same && o.Listen[i].Addr == n.Listen[i].Addr && o.Listen[i].Name == n.Listen[i].Name
		}
		if same {
			o.Listen = n.Listen
		}
	}
	if usesNotify(old) == usesNotify(cur) { // else the process's environment changes
		o.Ready, o.Health = n.Ready, n.Health
	}
	if reflect.DeepEqual(o, n) {
		return update
	}
	return restart
}

// reloadPlan is what a reload will do: the API's plan (names added,
// removed, restarted, updated in place, left alone, in file order) and, for
// every kept service, its change.
type reloadPlan struct {
	api.Plan
	changes map[string]change
}

// planReload compares the running config with the new one. It is pure: it
// decides, and Reload applies. A change only a new `up` can make (the state
// dir) is refused.
func planReload(old, cur *config.Config) (reloadPlan, error) {
	if cur.Supervisor.StateDir != old.Supervisor.StateDir {
		return reloadPlan{}, &ReloadRefusedError{Reason: fmt.Sprintf("supervisor.state_dir changed from %s to %s; stop and start respawn to move it", old.Supervisor.StateDir, cur.Supervisor.StateDir)}
	}
	p := reloadPlan{
		Plan: api.Plan{Add: []string{}, Remove: []string{}, Restart: []string{}, Update: []string{}, Unchanged: []string{},
			Changes: []api.KeyChange{}},
		changes: map[string]change{},
	}
	for _, sc := range cur.Services {
		prev := old.Service(sc.Name)
		if prev == nil {
			p.Add = append(p.Add, sc.Name)
			continue
		}
		c := diff(prev, sc)
		p.changes[sc.Name] = c
		if c != unchanged {
			p.Changes = append(p.Changes, keyChanges(sc.Name, prev, sc)...)
		}
		switch c {
		case unchanged:
			p.Unchanged = append(p.Unchanged, sc.Name)
		case update:
			p.Update = append(p.Update, sc.Name)
		case restart:
			p.Restart = append(p.Restart, sc.Name)
		}
	}
	for _, sc := range old.Services {
		if cur.Service(sc.Name) == nil {
			p.Remove = append(p.Remove, sc.Name)
		}
	}
	return p, nil
}

// Reload re-reads the config file and applies only the difference: services
// added are started (when autostart), removed ones stopped and forgotten,
// changed ones restarted, and settings that need no restart updated in place.
// Unchanged services keep their process. With dryRun it only returns the plan.
// A config with errors changes nothing and returns them (a config.ErrorList).
func (s *Supervisor) Reload(ctx context.Context, dryRun bool) (api.Plan, error) {
	select {
	case <-s.closing:
		return api.Plan{}, ErrShuttingDown
	default:
	}
	var plan api.Plan
	var err error
	// Reloads run on the loop, one at a time: it owns the set of services.
	if lerr := s.onLoop(ctx, func() { plan, err = s.reload(ctx, dryRun) }); lerr != nil {
		if errors.Is(lerr, errLoopEnded) {
			return api.Plan{}, ErrShuttingDown
		}
		return api.Plan{}, lerr
	}
	return plan, err
}

// reload is Reload on the loop.
func (s *Supervisor) reload(ctx context.Context, dryRun bool) (api.Plan, error) {
	if s.shut {
		return api.Plan{}, ErrShuttingDown
	}
	r := s.roster.Load()
	old := r.cfg
	cur, err := s.opts.Load(old.Path)
	if err != nil {
		// A file full of mistakes can take hundreds of MB to read: give
		// them back now, or the core keeps a heap that size for good.
		debug.FreeOSMemory()
		if list := config.ErrorList(nil); errors.As(err, &list) {
			return api.Plan{}, &ConfigError{Err: err}
		}
		return api.Plan{}, err
	}
	p, err := planReload(old, cur)
	if err != nil {
		return api.Plan{}, err
	}
	plan, kinds := p.Plan, p.changes
	// Build everything that can fail before touching a running service, so a
	// bad service definition leaves the running set as it was.
	added := map[string]*member{}
	newCfgs := map[string]service.Config{}
	for _, sc := range cur.Services {
		if slices.Contains(plan.Add, sc.Name) {
			continue
		}
		scfg, err := serviceConfig(sc, s.opts.Environ)
		if err != nil {
			return api.Plan{}, fmt.Errorf("service %s: %w", sc.Name, err)
		}
		newCfgs[sc.Name] = scfg
	}
	if dryRun {
		return plan, nil
	}
	// New sockets are opened before anything changes: one that cannot be
	// (a port in use) refuses the reload. Those the file no longer names
	// close once the services that had them are stopped or restarted.
	oldSockets, newSockets := socketsOf(old), socketsOf(cur)
	if err := s.openSockets(newSockets, oldSockets); err != nil {
		return api.Plan{}, err
	}
	for name, scfg := range newCfgs {
		m := r.byName[name]
		if err := s.setProbes(m, cur.Service(name), &scfg); err != nil {
			_ = s.closeSockets(oldSockets, newSockets) // the ones just opened
			return api.Plan{}, err
		}
		newCfgs[name] = scfg
	}
	for _, name := range plan.Add {
		m, err := s.newMember(cur.Service(name))
		if err != nil {
			// Never run: retiring closes what building opened (its log
			// and its notify socket).
			for _, m := range added {
				m.retire(s.log)
			}
			_ = s.closeSockets(oldSockets, newSockets) // the ones just opened
			return api.Plan{}, err
		}
		added[name] = m
	}

	s.log.Info("reloading", "add", plan.Add, "remove", plan.Remove, "restart", plan.Restart, "update", plan.Update)
	s.opts.Journal.Record(api.Event{Type: api.EventSupervisor, Pid: os.Getpid(), Message: "reload: " + planText(plan)})

	var errs []error
	// Removed services go first: their names may be reused by nothing else,
	// but their processes must not outlive the config that named them.
	var removed []*member
	if len(plan.Remove) > 0 { // resolve reads no names as every service
		if removed, err = r.resolve(plan.Remove); err != nil {
			return api.Plan{}, err
		}
	}
	for _, r := range s.stopInOrder(ctx, removed) {
		if r.Error != "" {
			errs = append(errs, fmt.Errorf("stop %s: %s", r.Name, r.Error))
		}
	}
	for _, m := range removed {
		m.retire(s.log)
		if err := s.opts.Runner.Forget(m.spec().Name); err != nil {
			errs = append(errs, fmt.Errorf("forget %s: %w", m.spec().Name, err))
		}
		if m.spec().Restart.Strategy == config.StartFirst { // its other process name
			_ = s.opts.Runner.Forget(m.spec().Name + service.ReplacementSuffix)
		}
	}

	// Swap in the new set: kept members get their new spec, in the new order.
	members := make([]*member, 0, len(cur.Services))
	for _, sc := range cur.Services {
		m := added[sc.Name]
		if m == nil {
			m = r.byName[sc.Name]
			m.specp.Store(sc)
		}
		members = append(members, m)
	}
	next := newRoster(cur, members)
	s.roster.Store(next)

	for name, c := range kinds {
		if c == unchanged {
			continue
		}
		if _, err := next.byName[name].svc.Reconfigure(ctx, newCfgs[name], c == restart); err != nil {
			errs = append(errs, fmt.Errorf("reconfigure %s: %w", name, err))
		}
	}
	for _, name := range plan.Add {
		m := added[name]
		m.run()
		if m.spec().Autostart {
			if _, err := m.svc.Start(ctx); err != nil {
				errs = append(errs, fmt.Errorf("start %s: %w", name, err))
			}
		}
	}
	if err := s.closeSockets(newSockets, oldSockets); err != nil {
		errs = append(errs, err)
	}
	s.armSchedules()
	plan.Applied = true
	return plan, errors.Join(errs...)
}

func planText(p api.Plan) string {
	var parts []string
	for _, x := range []struct {
		verb  string
		names []string
	}{{"add", p.Add}, {"remove", p.Remove}, {"restart", p.Restart}, {"update", p.Update}} {
		if len(x.names) > 0 {
			parts = append(parts, x.verb+" "+strings.Join(x.names, ","))
		}
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, "; ")
}
