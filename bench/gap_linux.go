package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// gapScenario is (a): a service that exits 1 at once, restarted over and
// over; the gap is the time from one instance's exit to the next one's start.
func (e *env) gapScenario(ctx context.Context) (*table, error) {
	t := e.newTable("(a) crash→respawn gap (next start − previous exit)")
	floor, err := e.gapFloor(ctx, e.opts.gaps)
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		t.note("floor: %v", err)
	case len(floor.gaps) > 0:
		t.note("floor: the bench itself restarting stamp, no supervisor (wait for the exit, then fork and exec): p50 %.2f ms, p99 %.2f ms (%d gaps)",
			seconds(percentile(floor.gaps, 50))*1e3, seconds(percentile(floor.gaps, 99))*1e3, len(floor.gaps))
	}
	var logs []stampLog
	var figs []bool
	for _, sl := range e.peers() {
		logs, figs = append(logs, stampLog{}), append(figs, false)
		p := sl.p
		if p == nil {
			continue
		}
		// respawn's gaps are milliseconds; the other peers' are a second
		// each, so fewer of them, within a bound, make the run no longer.
		want, limit := e.opts.peerGap, e.opts.peerMax
		if p.name() == "respawn" {
			want, limit = e.opts.gaps, 60*time.Second
		}
		l, err := e.gapRun(ctx, t, p, want, limit)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			t.note("%s: %v", p.name(), err)
			continue
		}
		if len(l.gaps) < want {
			t.note("%s: collected %d of %d gaps within %v", p.name(), len(l.gaps), want, limit)
		}
		if l.overlaps > 0 || l.bad > 0 {
			t.note("%s: %d starts without an exit before them, %d unreadable lines", p.name(), l.overlaps, l.bad)
		}
		logs[len(logs)-1], figs[len(figs)-1] = l, len(l.gaps) > 0
	}
	cells := func(f func(stampLog) float64) []figure {
		var out []figure
		for i, sl := range e.peers() {
			switch {
			case figs[i]:
				out = append(out, value(f(logs[i])))
			case sl.p == nil:
				out = append(out, unavailable(sl))
			default:
				out = append(out, missing("no gaps"))
			}
		}
		return out
	}
	pct := func(p float64) func(stampLog) float64 {
		return func(l stampLog) float64 { return seconds(percentile(l.gaps, p)) }
	}
	t.add(row{label: "p50", unit: unitMs, cells: cells(pct(50)), target: atMost(0.002, "2 ms")})
	t.add(row{label: "p99", unit: unitMs, cells: cells(pct(99)), target: atMost(0.010, "10 ms")})
	t.add(row{label: "max", unit: unitMs, cells: cells(pct(100))})
	n := func(l stampLog) float64 { return float64(len(l.gaps)) }
	t.add(row{label: "gaps collected", unit: unitCount, cells: cells(n), noRatio: true})
	return t, nil
}

// gapRun runs the stamp service under p until the stamp file shows want
// gaps or limit passes, then stops the supervisor and reads the file.
func (e *env) gapRun(ctx context.Context, t *table, p peer, want int, limit time.Duration) (stampLog, error) {
	dir, done, err := e.scratch("a-" + p.name())
	if err != nil {
		return stampLog{}, err
	}
	defer done()
	file := filepath.Join(dir, "stamps")
	in, err := p.launch(dir, []service{{name: "stamp", argv: []string{e.stamp, file}, restart: true}})
	if err != nil {
		return stampLog{}, err
	}
	werr := in.waitFor(ctx, 20*time.Millisecond, limit, func() (bool, error) {
		b, err := os.ReadFile(file)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
		// want gaps need want+1 starts.
		return bytes.Count(b, []byte("start ")) > want, nil
	})
	_, left, serr := in.stop(stopGrace)
	if werr != nil && !errors.Is(werr, errTimeout) {
		return stampLog{}, errors.Join(werr, serr)
	}
	if serr != nil {
		return stampLog{}, fmt.Errorf("stop: %w", serr)
	}
	noteLeftovers(t, p, left)
	b, err := os.ReadFile(file)
	if err != nil {
		return stampLog{}, fmt.Errorf("read stamps: %w", err)
	}
	return parseStamps(b), nil
}

// gapFloor is (a)'s floor: the bench restarts stamp itself in the
// shortest loop a supervisor could run, a blocking wait for the exit and
// at once the next fork and exec, and reads the gaps from the stamp file as
// for the peers. What it measures is what every peer's gap holds besides
// the supervisor's own work: the old process's end, a fork and exec, and
// the Go runtime's start in the new one.
func (e *env) gapFloor(ctx context.Context, n int) (stampLog, error) {
	dir, done, err := e.scratch("a-floor")
	if err != nil {
		return stampLog{}, err
	}
	defer done()
	file := filepath.Join(dir, "stamps")
	attr := &os.ProcAttr{
		Files: []*os.File{nil, nil, nil},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}
	// n gaps need n+1 starts.
	for range n + 1 {
		if err := ctx.Err(); err != nil {
			return stampLog{}, err
		}
		p, err := os.StartProcess(e.stamp, []string{e.stamp, file}, attr)
		if err != nil {
			return stampLog{}, fmt.Errorf("spawn stamp: %w", err)
		}
		if _, err := p.Wait(); err != nil {
			return stampLog{}, fmt.Errorf("wait for stamp: %w", err)
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return stampLog{}, fmt.Errorf("read stamps: %w", err)
	}
	return parseStamps(b), nil
}
