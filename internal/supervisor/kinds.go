package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/proc"
	"github.com/respawn-sh/respawn/internal/proc/discover"
	"github.com/respawn-sh/respawn/internal/service"
)

// pidfileWait is how often a launcher's pidfile is read while waiting for it:
// only between a launcher's exit and its daemon's appearance.
const pidfileWait = 50 * time.Millisecond

// finder builds Find for the kinds whose process is not what respawn spawns.
func (s *Supervisor) finder(sc *config.Service) func(context.Context, bool) (service.Process, error) {
	switch sc.Kind {
	case config.KindForking:
		return func(ctx context.Context, _ bool) (service.Process, error) {
			for {
				pid, err := waitPid(ctx, func() (int, error) { return discover.PidFromFile(sc.Pidfile) })
				if err != nil {
					return nil, fmt.Errorf("daemon's pidfile %s: %w", sc.Pidfile, err)
				}
				p, err := s.opts.Runner.Adopt(sc.Name, pid)
				// A launcher (nginx's) exits before its daemon writes the pidfile:
				// until then the file may still name the daemon killed before, gone
				// or someone else's by now. Read it again until the find times out.
				stale := errors.Is(err, os.ErrProcessDone) || errors.Is(err, proc.ErrNotChild)
				if !stale {
					return p, err
				}
				select {
				case <-ctx.Done():
					return nil, err
				case <-time.After(pidfileWait):
				}
			}
		}
	case config.KindExternal:
		locate := s.locator(sc)
		return func(ctx context.Context, afterLaunch bool) (service.Process, error) {
			var pid int
			var err error
			if afterLaunch {
				pid, err = waitPid(ctx, func() (int, error) { return locate(ctx) }) // it may take a moment to appear
			} else {
				pid, err = locate(ctx)
			}
			if err != nil {
				return nil, fmt.Errorf("%s is not running: %w", sc.Name, err)
			}
			return s.opts.Runner.Watch(sc.Name, pid)
		}
	}
	return nil
}

// locator finds an external service's pid once.
func (s *Supervisor) locator(sc *config.Service) func(context.Context) (int, error) {
	switch {
	case sc.Pidfile != "":
		return func(context.Context) (int, error) { return discover.PidFromFile(sc.Pidfile) }
	case sc.Match != nil:
		return func(context.Context) (int, error) {
			pids, err := discover.FindByCmdline(sc.Match)
			if err != nil {
				return 0, err
			}
			if len(pids) == 0 {
				return 0, fmt.Errorf("no process matches %q", sc.Match.String())
			}
			return pids[0], nil
		}
	default:
		return func(ctx context.Context) (int, error) { return s.unitPid(ctx, sc) }
	}
}

// errNotYet says a pid is not there yet.
var errNotYet = errors.New("not there yet")

// waitPid retries find until it answers or ctx ends.
func waitPid(ctx context.Context, find func() (int, error)) (int, error) {
	t := time.NewTicker(pidfileWait)
	defer t.Stop()
	for {
		pid, err := find()
		if err == nil && pid > 0 {
			return pid, nil
		}
		if err == nil {
			err = errNotYet
		}
		select {
		case <-ctx.Done():
			return 0, err
		case <-t.C:
		}
	}
}

// unitPid asks systemd for a unit's main pid, through the same spawner as
// every other process.
func (s *Supervisor) unitPid(ctx context.Context, sc *config.Service) (int, error) {
	p, err := s.opts.Runner.Spawn(proc.Spec{
		Name:    sc.Name + ".probe",
		Args:    []string{"systemctl", "show", "--property=MainPID", "--value", sc.Unit},
		BaseEnv: s.opts.Environ,
		Dir:     sc.Cwd,
	})
	if err != nil {
		return 0, err
	}
	go func() { _, _ = io.Copy(io.Discard, p.Stderr()); p.Stderr().Close() }()
	out, _ := io.ReadAll(io.LimitReader(p.Stdout(), 4096))
	p.Stdout().Close()
	select {
	case <-p.Done():
	case <-ctx.Done():
		_ = p.KillTree()
		return 0, ctx.Err()
	}
	if e := p.Exit(); e.Signal != 0 || e.Code != 0 {
		return 0, fmt.Errorf("systemctl show %s: %s", sc.Unit, e)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(out)))
	if err != nil {
		return 0, fmt.Errorf("systemctl show %s: %q is no pid", sc.Unit, out)
	}
	if pid == 0 {
		return 0, fmt.Errorf("unit %s has no main process", sc.Unit)
	}
	return pid, nil
}
