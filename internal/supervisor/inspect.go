package supervisor

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/service"
)

// SignalServices sends sig to the process group of each named service that runs.
func (s *Supervisor) SignalServices(ctx context.Context, sig syscall.Signal, names []string) ([]api.Result, error) {
	list, err := s.resolve(names)
	if err != nil {
		return nil, err
	}
	results := make([]api.Result, 0, len(list))
	for _, m := range list {
		_, err := m.svc.Signal(ctx, sig)
		snap := m.svc.Snapshot()
		r := api.Result{Name: snap.Name, State: snap.State.String(), Pid: snap.Pid}
		if errors.Is(err, service.ErrNoProcess) {
			r.Error = fmt.Sprintf("not signalled: %s is %s, %v", snap.Name, snap.State, err)
		} else if err != nil {
			r.Error = err.Error()
		}
		results = append(results, r)
	}
	return results, nil
}

// LogFile names one service's current log file.
type LogFile struct {
	Service string
	Path    string
}

// LogFiles returns each named service's log file, in config order.
func (s *Supervisor) LogFiles(names []string) ([]LogFile, error) {
	list, err := s.resolve(names)
	if err != nil {
		return nil, err
	}
	out := make([]LogFile, 0, len(list))
	for _, m := range list {
		if m.sink != nil {
			out = append(out, LogFile{Service: m.spec().Name, Path: m.sink.Path()})
		}
	}
	return out, nil
}

// Why explains one service: its state, its recent exits with what it printed
// before each, and where it stands with its restart policy.
func (s *Supervisor) Why(name string) (api.Why, error) {
	list, err := s.resolve([]string{name})
	if err != nil {
		return api.Why{}, err
	}
	m := list[0]
	snap := m.svc.Snapshot()
	row := statusRow(snap)
	row.LogDropped = m.logDropped()
	w := api.Why{
		Service:        row,
		Exits:          make([]api.WhyExit, 0, len(snap.Exits)),
		Attempts:       snap.Attempt,
		StartsInWindow: snap.StartsInWindow,
		Burst:          m.spec().Restart.Limit.Burst,
		Window:         m.spec().Restart.Limit.Window.String(),
	}
	for _, e := range snap.Exits {
		we := api.WhyExit{StartedAt: e.StartedAt, ExitedAt: e.Exit.At, Pid: e.Pid, Decision: e.Decision, OOM: e.OOM, LastLines: []api.LogLine{}}
		if e.Exit.Signal != 0 {
			we.Signal = unix.SignalName(syscall.Signal(e.Exit.Signal))
		} else {
			c := e.Exit.Code
			we.ExitCode = &c
		}
		for _, l := range e.LastLines {
			we.LastLines = append(we.LastLines, api.LogLine{Time: l.Time, Service: snap.Name, Stream: l.Stream.String(), Line: l.Text})
		}
		w.Exits = append(w.Exits, we)
	}
	w.Summary = summary(snap, m.spec().Restart.Limit.Burst, time.Now())
	w.WaitingOn, w.Blocked = snap.WaitingOn, snap.Blocked
	if n := m.notify.Load(); n != nil {
		w.NotifyDropped = n.Dropped()
		for _, d := range n.Drops() {
			w.NotifyDrops = append(w.NotifyDrops, api.WhyNotifyDrop{Time: d.At, Pid: d.Pid, Reason: d.Reason})
		}
	}
	w.Dependencies = []api.WhyDependency{}
	for _, d := range m.spec().DependsOn {
		dl, err := s.resolve([]string{d.Name})
		if err != nil {
			continue
		}
		dsn := dl[0].svc.Snapshot()
		w.Dependencies = append(w.Dependencies, api.WhyDependency{
			Name: d.Name, Condition: string(d.Condition), Restart: d.Restart,
			State: dsn.State.String(), Satisfied: satisfied(d.Condition, dsn, dl[0].spec()),
		})
	}
	return w, nil
}

// summary says in one line what is going on with a service.
func summary(sn service.Snapshot, burst int, now time.Time) string {
	last := "never exited"
	if sn.LastExit != nil {
		last = "last exit: " + sn.LastExit.String()
	}
	switch sn.State {
	case service.Running:
		if len(sn.Exits) > 0 && sn.Restarts > 0 {
			return fmt.Sprintf("running for %s after %d restarts; %s", now.Sub(sn.StartedAt).Round(time.Second), sn.Restarts, last)
		}
		return fmt.Sprintf("running for %s", now.Sub(sn.StartedAt).Round(time.Second))
	case service.Backoff:
		return fmt.Sprintf("crash-looping: %d consecutive failures, %d of %d starts used in the window; %s; next retry in %s",
			sn.Attempt, sn.StartsInWindow, burst, last, sn.NextRetryAt.Sub(now).Round(time.Millisecond))
	case service.Failed:
		if sn.Gen == 0 || len(sn.Exits) == 0 {
			return "failed to start: " + sn.Error + "; it will not be retried until `respawn start`"
		}
		retry := "until `respawn start`"
		if !sn.NextRetryAt.IsZero() {
			retry = "until " + sn.NextRetryAt.Format(time.RFC3339)
		}
		return fmt.Sprintf("gave up: %s; stays failed %s", sn.Error, retry)
	case service.Exited:
		return "finished: " + last
	case service.Waiting:
		return sn.WaitingOn + "; not started, no restart budget spent"
	case service.Stopped:
		if sn.Gen == 0 {
			return "stopped: never started (autostart is off, or it was stopped)"
		}
		return "stopped by request; " + last
	}
	return sn.State.String()
}
