package proc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/respawn-sh/respawn/internal/platform"
	"github.com/respawn-sh/respawn/internal/proc/cleanup"
)

// leftoverTimeout bounds the wait for processes of an earlier instance to die.
const leftoverTimeout = 5 * time.Second

// Options configure a Manager.
type Options struct {
	Logger *slog.Logger
	// InstanceID names this supervisor's cgroup subtree ("respawn-<InstanceID>");
	// a short hash of the state dir, given by the caller. Required. At most one
	// live Manager per InstanceID: NewManager kills whatever runs under it.
	InstanceID string
	// NoCgroup forces the process-group fallback even when cgroups are writable.
	NoCgroup bool
	// RequireCgroup makes NewManager fail, saying why, when cgroup
	// containment cannot be used (ignored with NoCgroup or Resume).
	RequireCgroup bool
	// Self is a binary that runs RunTrampoline first thing in main; default the
	// running image (/proc/self/exe on Linux, os.Executable elsewhere). Used only
	// when a Spec needs umask or rlimits.
	Self string
	// OnExit, when set, is called for every Process of this Manager (spawned,
	// adopted or resumed) once its main process was reaped, right after Exit is
	// recorded and Done is closed. It runs on the reaper goroutine, which
	// serves the whole program: it must not block (hand the Process on, for
	// example to a buffered channel or a queue), or no other exit is seen
	// meanwhile. It may call the Manager's methods.
	OnExit func(*Process)
	// Resume lists the processes that survived an in-place re-exec (see
	// Reexec) and are our children already; NewManager takes them over
	// instead of cleaning up what the previous image left (see Child).
	Resume []Child
	// OnTrack, when set, hears of every process tracked in process-group
	// mode besides the spawned ones (a descendant that left its service's
	// process group, an orphan adopted from a service's tree), with live
	// true when it is found and false once it is gone, so that a caller can
	// record them for KillRecorded. It must not block or call the Manager.
	OnTrack func(rec cleanup.Record, live bool)
}

// Manager starts service processes and keeps each service's tree contained:
// in one cgroup per service when cgroup2 is usable, else in a process group.
// Its methods are safe for concurrent use.
type Manager struct {
	logger      *slog.Logger
	self        string
	id          identity
	containment Containment
	base        *cgroupDir // nil in process-group mode
	onExit      func(*Process)
	onTrack     func(cleanup.Record, bool)
	resumed     []*Process // in the order of Options.Resume

	// The tracking sweep's loop (process-group mode only; nil channels
	// otherwise): trackSoon asks for a sweep soon, trackStop ends the loop,
	// which closes trackDone.
	trackSoon chan struct{}
	trackStop chan struct{}
	trackDone chan struct{}

	mu       sync.Mutex // guards services and closed
	services map[string]*service
	closed   bool
}

// service is one service name's containment state.
type service struct {
	mu sync.Mutex // serializes Spawn and Forget of the service; guards the fields below
	cg *cgroupDir // created on first spawn in cgroup mode
	// last is the most recent instance; a new spawn kills what is left of it.
	last      *Process
	forgotten bool
}

// NewManager prepares containment. In cgroup mode it first kills and removes
// whatever a previous run with the same InstanceID left behind, unless
// Options.Resume is set (see Child). When cgroups cannot be used it logs why,
// once, and falls back to process groups.
func NewManager(opts Options) (*Manager, error) {
	if !validInstanceID(opts.InstanceID) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidInstanceID, opts.InstanceID)
	}
	if err := checkResume(opts.Resume); err != nil {
		return nil, err
	}
	m := &Manager{
		logger:      opts.Logger,
		self:        opts.Self,
		id:          identity{uid: os.Getuid(), gid: os.Getgid()},
		containment: ContainProcessGroup,
		services:    make(map[string]*service),
		onExit:      opts.OnExit,
		onTrack:     opts.OnTrack,
	}
	if m.logger == nil {
		m.logger = slog.New(slog.DiscardHandler)
	}
	if m.self == "" {
		self, err := defaultSelf()
		if err != nil {
			return nil, fmt.Errorf("find own executable: %w", err)
		}
		m.self = self
	}
	if _, err := devNull(); err != nil {
		return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	if err := becomeSubreaper(); err != nil {
		return nil, err
	}
	if len(opts.Resume) > 0 {
		if err := m.resume(opts); err != nil {
			return nil, err
		}
		m.startTrackingIfGroups()
		m.kickTracking() // the previous image's findings did not come along
		return m, nil
	}
	startReaper()
	startForker()
	switch {
	case opts.NoCgroup:
		m.logger.Info("containing services by process group", "reason", "cgroups disabled by option")
	case !platform.Current().Cgroups:
		if opts.RequireCgroup {
			return nil, fmt.Errorf("%w: platform %s has none", ErrNoCgroup, platform.Current().Name)
		}
		m.logger.Info("containing services by process group", "reason", "platform "+platform.Current().Name+" has no cgroups")
	case opts.RequireCgroup:
		base, err := setupCgroups(opts.InstanceID)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoCgroup, err)
		}
		m.useCgroups(base)
	default:
		m.setupCgroups(opts.InstanceID)
	}
	m.startTrackingIfGroups()
	return m, nil
}

// setupCgroups switches to cgroup containment when it works.
func (m *Manager) setupCgroups(instanceID string) {
	base, err := setupCgroups(instanceID)
	if err != nil {
		level := slog.LevelInfo
		if errors.Is(err, ErrLeftover) {
			level = slog.LevelWarn // processes of a crashed run survive next to ours
		}
		m.logger.Log(context.Background(), level, "containing services by process group", "reason", err.Error())
		return
	}
	m.useCgroups(base)
}

// startTrackingIfGroups starts the tracking sweep in process-group mode.
func (m *Manager) startTrackingIfGroups() {
	if m.containment == ContainProcessGroup {
		m.startTracking()
	}
}

func (m *Manager) useCgroups(base *cgroupDir) {
	m.base = base
	m.containment = ContainCgroup
	m.logger.Debug("containing services by cgroup", "cgroup", base.path)
}

// validInstanceID accepts what can safely be part of a directory name.
func validInstanceID(id string) bool {
	if id == "" || len(id) > 64 || id[0] == '.' {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Containment reports how service trees are tracked.
func (m *Manager) Containment() Containment { return m.containment }

// CgroupBase returns the cgroup holding every service of this Manager, ""
// in process-group mode. Writing 1 to its cgroup.kill ends them all.
func (m *Manager) CgroupBase() string {
	if m.base == nil {
		return ""
	}
	return m.base.path
}

// service returns the entry for name, creating it.
func (m *Manager) service(name string) (*service, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	s := m.services[name]
	if s == nil {
		s = &service{}
		m.services[name] = s
	}
	return s, nil
}

// Forget says the service is gone for good: whatever is left of it is killed
// and, in cgroup mode, its cgroup is removed. Forgetting an unknown name is a
// no-op.
func (m *Manager) Forget(name string) error {
	m.mu.Lock()
	s := m.services[name]
	delete(m.services, name)
	m.mu.Unlock()
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgotten = true
	if s.cg != nil {
		if err := s.cg.killAndWait(leftoverTimeout); err != nil {
			return fmt.Errorf("forget %s: %w", name, err)
		}
		if err := s.cg.remove(); err != nil {
			return fmt.Errorf("forget %s: %w", name, err)
		}
		return nil
	}
	if err := killLeftovers(s.last); err != nil {
		return fmt.Errorf("forget %s: %w", name, err)
	}
	return nil
}

// Close removes the cgroups that are empty and releases the Manager's
// resources. It does not kill running processes: their Process values keep
// working. Spawn fails with ErrClosed afterwards.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	m.stopTracking()
	m.mu.Lock()
	services := m.services
	m.services = nil
	m.mu.Unlock()

	var errs []error
	for _, s := range services {
		s.mu.Lock()
		if s.cg != nil {
			if pop, err := s.cg.populated(); err != nil {
				errs = append(errs, err)
			} else if !pop {
				errs = append(errs, s.cg.remove())
			}
		}
		s.mu.Unlock()
	}
	if m.base != nil {
		// Fails while a service cgroup is still populated; the base then stays.
		if err := m.base.removeIfEmpty(); err != nil {
			m.base.release()
		}
	}
	return errors.Join(errs...)
}

// killLeftovers kills what remains of a process-group-contained instance and
// waits, bounded, for it to be gone.
func killLeftovers(p *Process) error {
	if p == nil || p.treeGoneNow() {
		return nil
	}
	if err := p.KillTree(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), leftoverTimeout)
	defer cancel()
	if err := p.WaitTreeGone(ctx); err != nil {
		return fmt.Errorf("pid %d: %w", p.pid, ErrLeftover)
	}
	return nil
}
