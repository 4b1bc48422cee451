package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// statusLimit bounds the time spent timing one kind of status command for
// one peer: supervisorctl takes a Python start-up per call, and s6-svstat
// one exec per service.
const statusLimit = 30 * time.Second

// statusRun is the timing of one kind of status command.
type statusRun struct {
	times   []time.Duration // one per run of the whole command set
	nonzero int             // runs where a command exited with a non-zero status
	first   string          // the first such failure, for a note
}

// timeStatus runs cmds back to back, as a person's shell would, up to n
// times or until limit passes, and times each whole set. A command that
// cannot be started is an error; a non-zero exit is counted (supervisorctl
// exits 3 when a program is not RUNNING, which in a crash storm is most of
// the time).
func timeStatus(ctx context.Context, cmds [][]string, n int, limit time.Duration) (statusRun, error) {
	var r statusRun
	deadline := time.Now().Add(limit)
	for i := 0; i < n && time.Now().Before(deadline); i++ {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		failed := false
		t0 := time.Now()
		for _, argv := range cmds {
			out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
			var ee *exec.ExitError
			switch {
			case errors.As(err, &ee):
				if !failed && r.first == "" {
					// One line, so the note stays one.
					r.first = fmt.Sprintf("%s: %v: %s", argv[0], err, strings.Join(strings.Fields(lastLines(string(out), 3)), " "))
				}
				failed = true
			case err != nil:
				return r, fmt.Errorf("status command %s: %w", argv[0], err)
			}
		}
		r.times = append(r.times, time.Since(t0))
		if failed {
			r.nonzero++
		}
	}
	if len(r.times) == 0 {
		return r, fmt.Errorf("%w: no status command finished within %v", errTimeout, limit)
	}
	return r, nil
}

// noteStatus records how many runs a figure rests on and any failures.
func noteStatus(t *table, who, what string, r statusRun, want int) {
	if len(r.times) < want {
		t.note("%s, %s: %d of %d runs within %v", who, what, len(r.times), want, statusLimit)
	}
	if r.nonzero > 0 {
		t.note("%s, %s: %d runs exited non-zero, first: %s", who, what, r.nonzero, r.first)
	}
}

// stormResult is one peer's crash storm.
type stormResult struct {
	cpuPct     float64 // scheduler run time of its own processes, % of one core
	tickPct    float64 // the same from utime+stime
	rate       float64 // service starts per second over the window
	msPerK     float64 // CPU ms per 1,000 starts
	procs      int
	status     statusRun
	statusSeen bool
}

// stormScenario is (f): N services that each exit about once a second,
// so that every peer restarts about N services a second: each service's
// life is one second less the pause the peer itself puts between a crash
// and the restart (s6, daemontools and supervisord wait a second; respawn
// does not). Measured: the supervisor's own CPU over -window after a
// warm-up, and then, with the storm still on, the latency of the status
// command for one service.
func (e *env) stormScenario(ctx context.Context) (*table, error) {
	n := e.opts.storm
	t := e.newTable(fmt.Sprintf("(f) crash storm: %d services each restarted about once a second; the supervisor's own CPU over %v, then `status` of one service during the storm", n, e.opts.window))
	res := make([]*stormResult, len(e.peers()))
	for i, sl := range e.peers() {
		if sl.p == nil {
			continue
		}
		r, err := e.stormRun(ctx, t, sl.p, n)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			t.note("%s: %v", sl.name, err)
			continue
		}
		res[i] = r
		life := max(0, time.Second-sl.p.pause())
		t.note("%s: each service lives %v; %d own processes measured", sl.name, life, r.procs)
		if r.statusSeen {
			noteStatus(t, sl.name, "status during the storm", r.status, e.opts.queries)
		}
	}
	cells := func(f func(*stormResult) (float64, bool)) []figure {
		out := make([]figure, len(e.peers()))
		for i, sl := range e.peers() {
			switch {
			case sl.p == nil:
				out[i] = unavailable(sl)
			case res[i] == nil:
				out[i] = missing("error")
			default:
				if v, ok := f(res[i]); ok {
					out[i] = value(v)
				} else {
					out[i] = missing("error")
				}
			}
		}
		return out
	}
	var cpuTarget, statusTarget *target
	if n == 200 {
		cpuTarget = atMost(3, "3 % at 200 restarts/s")
	}
	statusTarget = atMost(0.003, "3 ms")
	t.add(row{label: "restarts/s (measured)", unit: unitRate, noRatio: true, cells: cells(func(r *stormResult) (float64, bool) { return r.rate, true })})
	t.add(row{label: "CPU, % of one core (schedstat)", unit: unitPct, target: cpuTarget, cells: cells(func(r *stormResult) (float64, bool) { return r.cpuPct, true })})
	t.add(row{label: "CPU, % of one core (utime+stime)", unit: unitPct, cells: cells(func(r *stormResult) (float64, bool) { return r.tickPct, true })})
	t.add(row{label: "CPU per 1,000 restarts", unit: unitCPUms, cells: cells(func(r *stormResult) (float64, bool) { return r.msPerK, r.rate > 0 })})
	pct := func(p float64) func(*stormResult) (float64, bool) {
		return func(r *stormResult) (float64, bool) {
			return seconds(percentile(r.status.times, p)), r.statusSeen
		}
	}
	t.add(row{label: "status NAME p50", unit: unitMs, target: statusTarget, cells: cells(pct(50))})
	t.add(row{label: "status NAME p99", unit: unitMs, cells: cells(pct(99))})
	return t, nil
}

// stormRun runs one peer's storm.
func (e *env) stormRun(ctx context.Context, t *table, p peer, n int) (*stormResult, error) {
	dir, done, err := e.scratch("f-" + p.name())
	if err != nil {
		return nil, err
	}
	defer done()
	fifo, st, closeFIFO, err := listenStarts(dir, n)
	if err != nil {
		return nil, err
	}
	defer closeFIFO()
	life := max(0, time.Second-p.pause())
	svcs := make([]service, n)
	for i := range svcs {
		svcs[i] = service{name: fmt.Sprintf("s%05d", i), argv: []string{e.block, fifo, life.String()}, restart: true}
	}
	in, err := p.launch(dir, svcs)
	if err != nil {
		return nil, err
	}
	res, merr := e.stormMeasure(ctx, in, p, st, dir, svcs[0].name)
	_, left, serr := in.stop(stopGrace)
	if merr != nil {
		return nil, errors.Join(merr, serr)
	}
	if serr != nil {
		return nil, fmt.Errorf("stop: %w", serr)
	}
	noteLeftovers(t, p, left)
	return res, nil
}

func (e *env) stormMeasure(ctx context.Context, in *instance, p peer, st *starts, dir, first string) (*stormResult, error) {
	if err := waitStarted(ctx, in, st, 2*time.Minute); err != nil {
		return nil, err
	}
	// The warm-up lets start-up work end and the restarts spread out.
	if err := sleepCtx(ctx, settle); err != nil {
		return nil, err
	}
	pids0, err := steadyOwn(ctx, in, p)
	if err != nil {
		return nil, err
	}
	u0, err := measure(pids0)
	if err != nil {
		return nil, err
	}
	c0, _ := st.snapshot()
	t0 := time.Now()
	if err := sleepCtx(ctx, e.opts.window); err != nil {
		return nil, err
	}
	if err := in.exited(); err != nil {
		return nil, err
	}
	pids1, err := p.own(in.pid())
	if err != nil {
		return nil, err
	}
	u1, err := measure(pids0)
	if err != nil {
		return nil, fmt.Errorf("a supervisor process ended during the window: %w", err)
	}
	elapsed := time.Since(t0).Seconds()
	c1, _ := st.snapshot()
	slices.Sort(pids0)
	slices.Sort(pids1)
	if !slices.Equal(pids0, pids1) {
		return nil, fmt.Errorf("supervisor processes changed during the window: %d → %d", len(pids0), len(pids1))
	}
	r := &stormResult{procs: len(pids0)}
	run := float64(u1.runNanos-u0.runNanos) / 1e9
	r.cpuPct = run / elapsed * 100
	r.tickPct = (u1.cpuSeconds() - u0.cpuSeconds()) / elapsed * 100
	r.rate = float64(c1-c0) / elapsed
	if c1 > c0 {
		r.msPerK = run * 1e3 / float64(c1-c0) * 1000
	}
	// Status during the storm, after the CPU window so that the commands'
	// own cost on the supervisor does not count as the storm's.
	r.status, err = timeStatus(ctx, p.status(dir, []string{first}, false), e.opts.queries, statusLimit)
	if err != nil {
		return nil, err
	}
	r.statusSeen = true
	return r, in.exited()
}

// steadyOwn returns the peer's own processes once two looks a second apart
// find the same ones (at most 30 s): the starts counted so far include
// restarts, so a supervisor made of many processes (s6-svscan starting an
// s6-supervise per service) may still be starting some of them when the
// count is reached, and the window must not begin before it is done.
func steadyOwn(ctx context.Context, in *instance, p peer) ([]int, error) {
	prev, err := p.own(in.pid())
	if err != nil {
		return nil, err
	}
	for range 30 {
		if err := sleepCtx(ctx, time.Second); err != nil {
			return nil, err
		}
		cur, err := p.own(in.pid())
		if err != nil {
			return nil, err
		}
		if slices.Equal(slices.Sorted(slices.Values(prev)), slices.Sorted(slices.Values(cur))) {
			return cur, nil
		}
		prev = cur
	}
	return nil, fmt.Errorf("the supervisor's own processes kept changing for 30 s (%d now)", len(prev))
}

// waitStarted waits until every service has started once.
func waitStarted(ctx context.Context, in *instance, st *starts, limit time.Duration) error {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-st.all:
		return nil
	case <-in.done:
		return in.exited()
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		c, _ := st.snapshot()
		return fmt.Errorf("%w: %d of %d services started in %v", errTimeout, c, st.want, limit)
	}
}

// restScenario is (g): N sleeping services; the latency of the status
// command for one of them and for all of them, each the peer's real
// command-line tool.
func (e *env) restScenario(ctx context.Context) (*table, error) {
	n := e.opts.storm
	t := e.newTable(fmt.Sprintf("(g) status at rest: %d sleeping services; the status command for one service and for all %d (each the peer's own tool, run %d times)", n, n, e.opts.queries))
	type rest struct{ one, all statusRun }
	res := make([]*rest, len(e.peers()))
	for i, sl := range e.peers() {
		if sl.p == nil {
			continue
		}
		var r rest
		err := e.restRun(ctx, t, sl.p, n, func(dir string, names []string) error {
			var err error
			if r.one, err = timeStatus(ctx, sl.p.status(dir, names[:1], false), e.opts.queries, statusLimit); err != nil {
				return err
			}
			r.all, err = timeStatus(ctx, sl.p.status(dir, names, true), e.opts.queries, statusLimit)
			return err
		})
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			t.note("%s: %v", sl.name, err)
			continue
		}
		res[i] = &r
		noteStatus(t, sl.name, "status NAME", r.one, e.opts.queries)
		noteStatus(t, sl.name, fmt.Sprintf("status of %d", n), r.all, e.opts.queries)
		if cmds := sl.p.status("DIR", []string{"s00000", "s00001"}, true); len(cmds) > 1 {
			t.note("%s: its tool shows one service per call: the status of %d is %d calls back to back", sl.name, n, n)
		}
	}
	cells := func(f func(*rest) []time.Duration, p float64) []figure {
		out := make([]figure, len(e.peers()))
		for i, sl := range e.peers() {
			switch {
			case sl.p == nil:
				out[i] = unavailable(sl)
			case res[i] == nil:
				out[i] = missing("error")
			default:
				out[i] = value(seconds(percentile(f(res[i]), p)))
			}
		}
		return out
	}
	one := func(r *rest) []time.Duration { return r.one.times }
	all := func(r *rest) []time.Duration { return r.all.times }
	var allTarget *target
	if n == 200 {
		allTarget = atMost(0.004, "4 ms")
	}
	t.add(row{label: "status NAME p50", unit: unitMs, target: atMost(0.0025, "2.5 ms"), cells: cells(one, 50)})
	t.add(row{label: "status NAME p99", unit: unitMs, cells: cells(one, 99)})
	t.add(row{label: fmt.Sprintf("status of %d p50", n), unit: unitMs, target: allTarget, cells: cells(all, 50)})
	t.add(row{label: fmt.Sprintf("status of %d p99", n), unit: unitMs, cells: cells(all, 99)})
	return t, nil
}

// restRun starts n sleeping services under p, waits until all have
// started, lets them settle, and runs measure.
func (e *env) restRun(ctx context.Context, t *table, p peer, n int, measure func(dir string, names []string) error) error {
	dir, done, err := e.scratch("g-" + p.name())
	if err != nil {
		return err
	}
	defer done()
	fifo, st, closeFIFO, err := listenStarts(dir, n)
	if err != nil {
		return err
	}
	defer closeFIFO()
	svcs := make([]service, n)
	names := make([]string, n)
	for i := range svcs {
		names[i] = fmt.Sprintf("s%05d", i)
		svcs[i] = service{name: names[i], argv: []string{e.block, fifo}, restart: true}
	}
	in, err := p.launch(dir, svcs)
	if err != nil {
		return err
	}
	merr := waitStarted(ctx, in, st, 2*time.Minute)
	if merr == nil {
		if merr = sleepCtx(ctx, settle); merr == nil {
			merr = measure(dir, names)
		}
	}
	_, left, serr := in.stop(stopGrace)
	if merr != nil {
		return errors.Join(merr, serr)
	}
	if serr != nil {
		return fmt.Errorf("stop: %w", serr)
	}
	noteLeftovers(t, p, left)
	return nil
}
