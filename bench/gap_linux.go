package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// gapScenario is (a): a service that exits 1 at once, restarted over and
// over; the gap is the time from one instance's exit to the next one's start.
func (e *env) gapScenario(ctx context.Context) (*table, error) {
	t := &table{title: "(a) crash→respawn gap (next start − previous exit)"}
	var logs [2]stampLog
	var figs [2]bool
	for i, p := range e.peers() {
		if p == nil {
			continue
		}
		want, limit := e.opts.gaps, 60*time.Second
		if i == 1 {
			want, limit = e.opts.peerGap, e.opts.peerMax
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
		logs[i], figs[i] = l, len(l.gaps) > 0
	}
	cell := func(i int, f func(stampLog) float64) figure {
		switch {
		case figs[i]:
			return value(f(logs[i]))
		case e.peers()[i] == nil:
			return e.unavailable(i)
		default:
			return missing("no gaps")
		}
	}
	pct := func(p float64) func(stampLog) float64 {
		return func(l stampLog) float64 { return seconds(percentile(l.gaps, p)) }
	}
	t.add(row{label: "p50", unit: unitMs, respawn: cell(0, pct(50)), peer: cell(1, pct(50)), target: atMost(0.002, "2 ms")})
	t.add(row{label: "p99", unit: unitMs, respawn: cell(0, pct(99)), peer: cell(1, pct(99)), target: atMost(0.010, "10 ms")})
	t.add(row{label: "max", unit: unitMs, respawn: cell(0, pct(100)), peer: cell(1, pct(100))})
	n := func(l stampLog) float64 { return float64(len(l.gaps)) }
	t.add(row{label: "gaps collected", unit: unitCount, respawn: cell(0, n), peer: cell(1, n), noRatio: true})
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
