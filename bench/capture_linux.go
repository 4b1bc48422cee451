package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/respawn-sh/respawn/bench/internal/lines"
)

// captureMode is one way the producer writes its lines.
type captureMode struct {
	flag  string // produce -mode
	label string
}

var captureModes = []captureMode{{"chunk", "64 KiB writes"}, {"line", "one write per line"}}

// captureResult is one producer run: how long its output took to land
// whole in the log, and whether every line did.
type captureResult struct {
	took  time.Duration // producer start → last line in the file
	check captureCheck
}

// captureScenario is (d): the producer's output captured to a file by
// each supervisor, against `produce | cat > file` as the floor. Runs
// alternate between cat and the peers so that a change in load falls on
// all of them alike; the median duration is reported, and lines lost in
// any run count.
func (e *env) captureScenario(ctx context.Context) (*table, error) {
	n := e.opts.mb * 1_000_000 / lines.Size
	payload := n * lines.Size
	t := e.newTable(fmt.Sprintf("(d) capture %d MB of %d-byte lines to a log file (producer start → last line on file, median of runs)", e.opts.mb, lines.Size))
	np := len(e.peers())
	for _, sl := range e.peers() {
		if sl.p == nil {
			continue
		}
		if _, why := sl.p.logPath("", ""); why != "" {
			t.note("%s: not measured: %s", sl.name, why)
		}
	}
	for _, m := range captureModes {
		// The last index is the cat floor.
		res := make([][]captureResult, np+1)
		failed := make([]bool, np+1)
		for r := 0; r < e.opts.runs; r++ {
			if !failed[np] {
				c, err := e.catRun(ctx, n, m)
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				if err != nil {
					t.note("cat, %s: %v", m.label, err)
					failed[np] = true
				} else {
					res[np] = append(res[np], c)
				}
			}
			for i, sl := range e.peers() {
				p := sl.p
				if p == nil || failed[i] {
					continue
				}
				if _, why := p.logPath("", ""); why != "" {
					failed[i] = true
					continue
				}
				c, err := e.captureRun(ctx, t, p, n, m)
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				if err != nil {
					t.note("%s, %s, run %d: %v", p.name(), m.label, r+1, err)
					failed[i] = true
					continue
				}
				if c.check.bad() > 0 {
					t.note("%s, %s, run %d: %s", p.name(), m.label, r+1, c.check)
				}
				res[i] = append(res[i], c)
			}
		}
		mbps := make([]figure, np+1)
		bad := make([]figure, np+1)
		for i := range res {
			switch {
			case len(res[i]) > 0:
				ds := make([]time.Duration, len(res[i]))
				total := 0
				for j, c := range res[i] {
					ds[j] = c.took
					total += c.check.bad()
				}
				mbps[i] = value(float64(payload) / 1e6 / median(ds).Seconds())
				bad[i] = value(float64(total))
			case i < np && e.peers()[i].p == nil:
				mbps[i], bad[i] = unavailable(e.peers()[i]), unavailable(e.peers()[i])
			case i < np:
				if _, why := e.peers()[i].p.logPath("", ""); why != "" {
					mbps[i], bad[i] = missing("no capture"), missing("no capture")
					continue
				}
				fallthrough
			default:
				mbps[i], bad[i] = missing("error"), missing("error")
			}
		}
		if mbps[np].ok {
			t.note("cat floor, %s: %s", m.label, mbps[np].String(unitMBps))
		}
		var speedTarget, catTarget *target
		if m.flag == "chunk" {
			catTarget = atLeast(0.95, "0.95× cat")
		} else {
			speedTarget = atLeast(200, "200 MB/s")
		}
		t.add(row{label: m.label + ": throughput", unit: unitMBps, cells: mbps[:np], target: speedTarget, higher: true})
		vsCat := make([]figure, np)
		for i, f := range mbps[:np] {
			vsCat[i] = missing("")
			if f.ok && mbps[np].ok {
				vsCat[i] = value(f.v / mbps[np].v)
			}
		}
		t.add(row{label: m.label + ": vs cat", unit: unitX, cells: vsCat, target: catTarget, higher: true})
		t.add(row{label: m.label + ": lines lost/bad", unit: unitCount, cells: bad[:np], target: atMost(0, "0"), noRatio: true})
	}
	return t, nil
}

// rotatingLog is a peer whose logger rotates the file logPath names:
// logFiles lists every file of that log, oldest first, ending with it.
type rotatingLog interface {
	logFiles(current string) ([]string, error)
}

// captureRun runs the producer once under p and checks the log.
func (e *env) captureRun(ctx context.Context, t *table, p peer, n int, m captureMode) (captureResult, error) {
	var res captureResult
	dir, done, err := e.scratch(fmt.Sprintf("d-%s-%s", p.name(), m.flag))
	if err != nil {
		return res, err
	}
	defer done()
	stamp := filepath.Join(dir, "produce.stamp")
	argv := []string{e.prod, "-lines", strconv.Itoa(n), "-mode", m.flag, "-stamp", stamp}
	in, err := p.launch(dir, []service{{name: "produce", argv: argv, bigLog: true}})
	if err != nil {
		return res, err
	}
	log, _ := p.logPath(dir, "produce")
	end, werr := waitComplete(ctx, log, stamp, n, in.exited)
	_, left, serr := in.stop(stopGrace)
	if werr != nil {
		return res, errors.Join(werr, serr)
	}
	if serr != nil {
		return res, fmt.Errorf("stop: %w", serr)
	}
	noteLeftovers(t, p, left)
	logs := []string{log}
	if r, ok := p.(rotatingLog); ok {
		if logs, err = r.logFiles(log); err != nil {
			return res, err
		}
	}
	return finishCapture(logs, stamp, end, n, p.prefixed())
}

// catRun is the floor: the producer piped straight into cat, written to a
// file in the same file system, timed the same way.
func (e *env) catRun(ctx context.Context, n int, m captureMode) (captureResult, error) {
	var res captureResult
	dir, done, err := e.scratch("d-cat-" + m.flag)
	if err != nil {
		return res, err
	}
	defer done()
	stamp := filepath.Join(dir, "produce.stamp")
	log := filepath.Join(dir, "cat.log")
	out, err := os.Create(log)
	if err != nil {
		return res, fmt.Errorf("create %s: %w", log, err)
	}
	defer out.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return res, fmt.Errorf("pipe: %w", err)
	}
	prod := exec.Command(e.prod, "-lines", strconv.Itoa(n), "-mode", m.flag, "-stamp", stamp)
	prod.Stdout = pw
	cat := exec.Command("cat")
	cat.Stdin, cat.Stdout = pr, out
	if err := cat.Start(); err != nil {
		pr.Close()
		pw.Close()
		return res, fmt.Errorf("start cat: %w", err)
	}
	err = prod.Start()
	// The children hold their ends now; the bench must not keep the write
	// end open or cat would never see end-of-file.
	pr.Close()
	pw.Close()
	if err != nil {
		cat.Process.Kill()
		cat.Wait()
		return res, fmt.Errorf("start produce: %w", err)
	}
	end, werr := waitComplete(ctx, log, stamp, n, func() error { return nil })
	if werr != nil {
		prod.Process.Kill()
		cat.Process.Kill()
	}
	perr, cerr := prod.Wait(), cat.Wait()
	if werr != nil {
		return res, werr
	}
	if err := errors.Join(perr, cerr); err != nil {
		return res, fmt.Errorf("produce | cat: %w", err)
	}
	return finishCapture([]string{log}, stamp, end, n, false)
}

// finishCapture reads the producer's start time and checks the log.
func finishCapture(logs []string, stamp string, end time.Time, n int, prefixed bool) (captureResult, error) {
	var res captureResult
	b, err := os.ReadFile(stamp)
	if err != nil {
		return res, fmt.Errorf("read producer stamp: %w", err)
	}
	start, ok := stampValue(b, "start")
	if !ok {
		return res, fmt.Errorf("producer stamp %q has no start time", strings.TrimSpace(string(b)))
	}
	res.took = end.Sub(time.Unix(0, start))
	// A rotated log is read whole: its older files first, current last.
	var rs []io.Reader
	for _, l := range logs {
		f, err := os.Open(l)
		if err != nil {
			return res, fmt.Errorf("open log: %w", err)
		}
		defer f.Close()
		rs = append(rs, f)
	}
	res.check, err = checkCapture(io.MultiReader(rs...), n, prefixed)
	return res, err
}

func stampValue(b []byte, key string) (int64, bool) {
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok && k == key {
			ns, err := strconv.ParseInt(v, 10, 64)
			return ns, err == nil
		}
	}
	return 0, false
}

// quiet is how long a log must stop growing after the producer has ended
// before the bench gives up waiting for its last line.
const quiet = 3 * time.Second

// waitComplete polls the log every millisecond until it ends with the
// producer's last line, and returns when it saw that. A log that stops
// growing after the producer has ended is complete too (with lines lost,
// which the check then counts).
func waitComplete(ctx context.Context, log, stamp string, n int, exited func() error) (time.Time, error) {
	last := lines.Line(n - 1)
	tail := make([]byte, len(last))
	var size int64 = -1
	changed := time.Now()
	deadline := time.Now().Add(10 * time.Minute)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		now := time.Now()
		if fi, err := os.Stat(log); err == nil && fi.Size() != size {
			size, changed = fi.Size(), now
			if size >= int64(len(last)) && readTail(log, tail, size) && bytes.Equal(tail, last) {
				return now, nil
			}
		}
		if now.Sub(changed) > quiet {
			if b, err := os.ReadFile(stamp); err == nil {
				if _, ended := stampValue(b, "end"); ended {
					return changed, nil
				}
			}
		}
		if err := exited(); err != nil {
			return time.Time{}, err
		}
		if now.After(deadline) {
			return time.Time{}, fmt.Errorf("%w: log %s incomplete after 10m", errTimeout, log)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

func readTail(path string, buf []byte, size int64) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	k, err := f.ReadAt(buf, size-int64(len(buf)))
	return err == nil && k == len(buf)
}
