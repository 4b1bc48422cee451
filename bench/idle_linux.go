package main

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// settle is how long the fleet runs before idle cost is measured, so that
// start-up work does not count as idle.
const settle = 5 * time.Second

// idleResult is the supervisor's own cost while its services sleep.
type idleResult struct {
	procs      int
	cpuPerMin  float64 // utime+stime, CPU-s per minute
	runPerMin  float64 // scheduler run time, CPU-s per minute
	switchesPS float64 // context switches per second
	pssMB      float64 // 10^6 bytes
	restarts   int     // service starts seen during the window
}

// measureIdle lets the fleet settle, then samples the supervisor's own
// processes at both ends of the window.
func measureIdle(ctx context.Context, in *instance, own func(int) ([]int, error), st *starts, window time.Duration) (*idleResult, error) {
	if err := sleepCtx(ctx, settle); err != nil {
		return nil, err
	}
	pids0, err := own(in.pid())
	if err != nil {
		return nil, err
	}
	u0, err := measure(pids0)
	if err != nil {
		return nil, err
	}
	c0, _ := st.snapshot()
	t0 := time.Now()
	if err := sleepCtx(ctx, window); err != nil {
		return nil, err
	}
	if err := in.exited(); err != nil {
		return nil, err
	}
	pids1, err := own(in.pid())
	if err != nil {
		return nil, err
	}
	u1, err := measure(pids1)
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(t0)
	c1, _ := st.snapshot()
	slices.Sort(pids0)
	slices.Sort(pids1)
	if !slices.Equal(pids0, pids1) {
		// A process that came or went makes the difference meaningless.
		return nil, fmt.Errorf("supervisor processes changed during the window: %v → %v", pids0, pids1)
	}
	perMin := time.Minute.Seconds() / elapsed.Seconds()
	return &idleResult{
		procs:      len(pids1),
		cpuPerMin:  (u1.cpuSeconds() - u0.cpuSeconds()) * perMin,
		runPerMin:  float64(u1.runNanos-u0.runNanos) / 1e9 * perMin,
		switchesPS: float64(u1.switches-u0.switches) / elapsed.Seconds(),
		pssMB:      float64(u1.pssKB) * 1024 / 1e6,
		restarts:   c1 - c0,
	}, nil
}
