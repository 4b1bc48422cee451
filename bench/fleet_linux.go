package main

import (
	"context"
	"fmt"
	"time"
)

// fleetResult is one run of n blocking services under one supervisor.
type fleetResult struct {
	startup time.Duration // launch of the supervisor → n services started
	stop    time.Duration // SIGTERM → supervisor exited
	curve   string        // when the first, 10th, 50th and 90th percentile services started
	idle    *idleResult   // nil unless measured
}

// fleetScenario is (b) and (c): start n services that each say "started"
// through a FIFO, time until all have, then (c) leave them idle and measure
// what the supervisor alone costs.
func (e *env) fleetScenario(ctx context.Context) (tb, tc *table, err error) {
	tb = e.newTable("(b) start N services: launch of the supervisor → all N started (median of runs)")
	tc = e.newTable(fmt.Sprintf("(c) idle with N sleeping services: the supervisor's own processes over %v", e.opts.idle))
	runs := e.opts.runs
	if !e.opts.has("b") {
		runs = 1
	}
	// Runs alternate between the floor and the peers so that a change in
	// the machine's load during the scenario falls on all of them alike.
	for _, n := range e.opts.sizes {
		var floors []time.Duration
		results := make([][]fleetResult, len(e.peers()))
		failed := make([]bool, len(e.peers()))
		floorFailed := !e.opts.has("b")
		for r := 0; r < runs; r++ {
			if !floorFailed {
				d, err := e.spawnFloor(ctx, n)
				if ctx.Err() != nil {
					return nil, nil, ctx.Err()
				}
				if err != nil {
					tb.note("floor, N=%d: %v", n, err)
					floorFailed = true
				} else {
					floors = append(floors, d)
				}
			}
			for i, sl := range e.peers() {
				p := sl.p
				if p == nil || failed[i] {
					continue
				}
				idle := time.Duration(0)
				if r == runs-1 && e.opts.has("c") {
					idle = e.opts.idle
				}
				res, err := e.fleetRun(ctx, tb, p, n, idle, nil)
				if ctx.Err() != nil {
					return nil, nil, ctx.Err()
				}
				if err != nil {
					tb.note("%s, N=%d, run %d: %v", p.name(), n, r+1, err)
					if e.opts.has("c") {
						tc.note("%s, N=%d: no idle figures: %v", p.name(), n, err)
					}
					failed[i] = true
					continue
				}
				results[i] = append(results[i], res)
			}
		}
		if len(floors) > 0 {
			tb.note("floor, N=%d: the bench itself spawning N block processes back to back, no supervisor: %v (median of %d)", n, median(floors).Round(time.Millisecond), len(floors))
		}
		e.fleetRows(tb, tc, n, results)
	}
	return tb, tc, nil
}

func (e *env) fleetRows(tb, tc *table, n int, results [][]fleetResult) {
	cells := func(f func([]fleetResult) (float64, bool)) []figure {
		var out []figure
		for i, sl := range e.peers() {
			if sl.p == nil {
				out = append(out, unavailable(sl))
			} else if v, ok := f(results[i]); ok {
				out = append(out, value(v))
			} else {
				out = append(out, missing("error"))
			}
		}
		return out
	}
	med := func(get func(fleetResult) time.Duration) func([]fleetResult) (float64, bool) {
		return func(rs []fleetResult) (float64, bool) {
			if len(rs) == 0 {
				return 0, false
			}
			ds := make([]time.Duration, len(rs))
			for i, r := range rs {
				ds[i] = get(r)
			}
			return seconds(median(ds)), true
		}
	}
	var startTarget *target
	if n == 1000 {
		startTarget = atMost(0.45, "0.45 s")
	}
	tb.add(row{label: fmt.Sprintf("N=%d all started", n), unit: unitS,
		cells: cells(med(func(r fleetResult) time.Duration { return r.startup })), target: startTarget})
	tb.add(row{label: fmt.Sprintf("N=%d stop (info)", n), unit: unitS,
		cells: cells(med(func(r fleetResult) time.Duration { return r.stop }))})
	for i, sl := range e.peers() {
		if sl.p == nil || len(results[i]) < 2 {
			continue
		}
		ds := make([]time.Duration, len(results[i]))
		for j, r := range results[i] {
			ds[j] = r.startup.Round(time.Millisecond)
		}
		tb.note("%s, N=%d: runs %v", sl.name, n, ds)
	}
	for i, sl := range e.peers() {
		if sl.p == nil || len(results[i]) == 0 {
			continue
		}
		tb.note("%s, N=%d, last run: %s", sl.name, n, results[i][len(results[i])-1].curve)
	}
	if !e.opts.has("c") {
		return
	}
	idle := func(f func(*idleResult) float64) func([]fleetResult) (float64, bool) {
		return func(rs []fleetResult) (float64, bool) {
			if len(rs) == 0 || rs[len(rs)-1].idle == nil {
				return 0, false
			}
			return f(rs[len(rs)-1].idle), true
		}
	}
	var cpuTarget, pssTarget *target
	if n == 1000 {
		cpuTarget, pssTarget = atMost(0.01, "0.01 CPU-s/min"), atMost(20, "20 MB")
	}
	tc.add(row{label: fmt.Sprintf("N=%d CPU (utime+stime)", n), unit: unitCPU,
		cells: cells(idle(func(r *idleResult) float64 { return r.cpuPerMin })), target: cpuTarget})
	tc.add(row{label: fmt.Sprintf("N=%d CPU (schedstat, ns)", n), unit: unitCPU,
		cells: cells(idle(func(r *idleResult) float64 { return r.runPerMin }))})
	tc.add(row{label: fmt.Sprintf("N=%d PSS", n), unit: unitMB,
		cells: cells(idle(func(r *idleResult) float64 { return r.pssMB })), target: pssTarget})
	tc.add(row{label: fmt.Sprintf("N=%d context switches", n), unit: unitRate,
		cells: cells(idle(func(r *idleResult) float64 { return r.switchesPS }))})
	tc.add(row{label: fmt.Sprintf("N=%d supervisor processes", n), unit: unitCount, noRatio: true,
		cells: cells(idle(func(r *idleResult) float64 { return float64(r.procs) }))})
	for i, sl := range e.peers() {
		if sl.p == nil || len(results[i]) == 0 {
			continue
		}
		if r := results[i][len(results[i])-1].idle; r != nil && r.restarts > 0 {
			tc.note("%s, N=%d: %d service starts during the idle window", sl.name, n, r.restarts)
		}
	}
}

// fleetRun starts n services under p and, with idle > 0, measures the idle
// supervisor; attach, when set, runs once they have started and what it
// returns is called after the measurement (the UIs of (e)).
func (e *env) fleetRun(ctx context.Context, t *table, p peer, n int, idle time.Duration, attach func(ctx context.Context, dir string) (func(), error)) (fleetResult, error) {
	var res fleetResult
	dir, done, err := e.scratch(fmt.Sprintf("b-%s-%d", p.name(), n))
	if err != nil {
		return res, err
	}
	defer done()
	fifo, st, closeFIFO, err := listenStarts(dir, n)
	if err != nil {
		return res, err
	}
	defer closeFIFO()

	svcs := make([]service, n)
	for i := range svcs {
		svcs[i] = service{name: fmt.Sprintf("s%05d", i), argv: []string{e.block, fifo}, restart: true}
	}
	in, err := p.launch(dir, svcs)
	if err != nil {
		return res, err
	}
	stopped := false
	defer func() {
		if !stopped {
			in.stop(stopGrace)
		}
	}()
	limit := time.NewTimer(5 * time.Minute)
	defer limit.Stop()
	select {
	case <-st.all:
	case <-in.done:
		return res, in.exited()
	case <-ctx.Done():
		return res, ctx.Err()
	case <-limit.C:
		c, _ := st.snapshot()
		return res, fmt.Errorf("%w: %d of %d services started in 5m", errTimeout, c, n)
	}
	_, at := st.snapshot()
	res.startup = at.Sub(in.launched)
	res.curve = st.curve(in.launched)

	detach := func() {}
	if attach != nil {
		if detach, err = attach(ctx, dir); err != nil {
			return res, err
		}
	}
	if idle > 0 {
		res.idle, err = measureIdle(ctx, in, p.own, st, idle)
	}
	// The UIs leave before the stop, as a person's would.
	detach()
	if err != nil {
		return res, err
	}
	stopped = true
	took, left, err := in.stop(stopGrace)
	if err != nil {
		return res, fmt.Errorf("stop: %w", err)
	}
	noteLeftovers(t, p, left)
	res.stop = took
	return res, nil
}
