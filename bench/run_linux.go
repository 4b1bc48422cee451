package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// env is what every scenario shares: binaries, peers and the work directory.
type env struct {
	opts  options
	out   io.Writer
	work  string
	root  string // module root
	stamp string
	block string
	prod  string

	respawn        string // empty when it could not be built
	respawnErr     error
	supervisord    string // empty when missing
	supervisordErr error
	// slots holds the peers -peers chose, in the order of allPeers; an
	// unavailable one has a nil peer and the reason in err.
	slots []slot
}

// slot is one column of every table.
type slot struct {
	name string
	p    peer
	err  error
}

// stopGrace bounds a supervisor's clean stop before the bench kills it.
const stopGrace = 60 * time.Second

func run(ctx context.Context, o options, w io.Writer) error {
	if err := becomeSubreaper(); err != nil {
		return err
	}
	e := &env{opts: o, out: w}
	var err error
	if e.root, err = moduleRoot(); err != nil {
		return err
	}
	if e.work, err = os.MkdirTemp("", "respawn-bench-"); err != nil {
		return fmt.Errorf("create work dir: %w", err)
	}
	defer func() {
		if _, err := sweep(); err != nil {
			fmt.Fprintln(w, "warning: final cleanup:", err)
		}
		if o.keep {
			fmt.Fprintln(w, "\nwork directory kept:", e.work)
			return
		}
		os.RemoveAll(e.work)
	}()
	if err := e.buildHelpers(ctx); err != nil {
		return err
	}
	e.findPeers(ctx)
	if !slices.ContainsFunc(e.slots, func(s slot) bool { return s.p != nil }) {
		var errs []error
		for _, s := range e.slots {
			errs = append(errs, fmt.Errorf("%s: %w", s.name, s.err))
		}
		return fmt.Errorf("no peer is available: %w", errors.Join(errs...))
	}
	printFacts(w, e)

	var tables []*table
	show := func(t *table) { tables = append(tables, t); t.print(w) }
	if o.has("a") {
		la := loadAvg()
		t, err := e.gapScenario(ctx)
		if err != nil {
			return err
		}
		t.note("load average when the scenario began: %s", la)
		show(t)
	}
	if o.has("b") || o.has("c") {
		la := loadAvg()
		tb, tc, err := e.fleetScenario(ctx)
		if err != nil {
			return err
		}
		tb.note("load average when the scenario began: %s", la)
		tc.note("load average when the scenario began: %s", la)
		if o.has("b") {
			show(tb)
		}
		if o.has("c") {
			show(tc)
		}
	}
	if o.has("d") {
		la := loadAvg()
		t, err := e.captureScenario(ctx)
		if err != nil {
			return err
		}
		t.note("load average when the scenario began: %s", la)
		show(t)
	}
	if o.has("e") {
		la := loadAvg()
		t, err := e.uiScenario(ctx)
		if err != nil {
			return err
		}
		t.note("load average when the scenario began: %s", la)
		show(t)
	}
	if o.has("f") {
		la := loadAvg()
		t, err := e.stormScenario(ctx)
		if err != nil {
			return err
		}
		t.note("load average when the scenario began: %s", la)
		show(t)
	}
	if o.has("g") {
		la := loadAvg()
		t, err := e.restScenario(ctx)
		if err != nil {
			return err
		}
		t.note("load average when the scenario began: %s", la)
		show(t)
	}
	pass, miss := 0, 0
	for _, t := range tables {
		p, m := t.verdicts()
		pass, miss = pass+p, miss+m
	}
	fmt.Fprintf(w, "\ntargets: %d PASS, %d MISS\n", pass, miss)
	return nil
}

// moduleRoot finds the directory holding the respawn module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the respawn module: run `go run ./bench` from the repository")
	}
	root := filepath.Dir(mod)
	if _, err := os.Stat(filepath.Join(root, "bench", "stamp")); err != nil {
		return "", fmt.Errorf("%s does not hold bench/stamp: run `go run ./bench` from the respawn repository: %w", root, err)
	}
	return root, nil
}

// goBuild builds a static binary of pkg (relative to the module root).
func (e *env) goBuild(ctx context.Context, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = e.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, lastLines(string(b), 20))
	}
	return nil
}

func (e *env) buildHelpers(ctx context.Context) error {
	bin := filepath.Join(e.work, "bin")
	e.stamp = filepath.Join(bin, "stamp")
	e.block = filepath.Join(bin, "block")
	e.prod = filepath.Join(bin, "produce")
	for pkg, out := range map[string]string{"./bench/stamp": e.stamp, "./bench/block": e.block, "./bench/produce": e.prod} {
		if err := e.goBuild(ctx, pkg, out); err != nil {
			return err
		}
	}
	return nil
}

// findPeers builds respawn and locates supervisord; either may be missing,
// and its column then reads n/a.
func (e *env) findPeers(ctx context.Context) {
	switch {
	case !e.opts.measures("respawn"):
		e.respawnErr = errSkipped
	case e.opts.respawn != "":
		if p, err := filepath.Abs(e.opts.respawn); err != nil {
			e.respawnErr = err
		} else if _, err := os.Stat(p); err != nil {
			e.respawnErr = err
		} else {
			e.respawn = p
		}
	default:
		p := filepath.Join(e.work, "bin", "respawn")
		if err := e.goBuild(ctx, "./cmd/respawn", p); err != nil {
			e.respawnErr = err
		} else {
			e.respawn = p
		}
	}
	if e.respawnErr != nil && !errors.Is(e.respawnErr, errSkipped) {
		fmt.Fprintf(e.out, "warning: respawn unavailable, its column reads n/a: %v\n", e.respawnErr)
	}
	if !e.opts.measures("supervisord") {
		e.supervisordErr = errSkipped
	} else {
		e.supervisord, e.supervisordErr = findSupervisord(func(s string) { fmt.Fprintln(e.out, s) })
	}
	if e.supervisordErr != nil && !errors.Is(e.supervisordErr, errSkipped) {
		fmt.Fprintf(e.out, "warning: supervisord unavailable, its column reads n/a: %v\n", e.supervisordErr)
	}
	for _, name := range e.opts.peers {
		s := slot{name: name}
		switch name {
		case "respawn":
			if s.err = e.respawnErr; e.respawn != "" {
				s.p = respawnPeer{bin: e.respawn}
			}
		case "supervisord":
			if s.err = e.supervisordErr; e.supervisord != "" {
				s.p = supervisordPeer{bin: e.supervisord}
			}
		case "s6":
			var p s6Peer
			if p, s.err = findS6(e.log); s.err == nil {
				s.p = p
			}
		case "daemontools":
			var p daemontoolsPeer
			if p, s.err = findDaemontools(e.log); s.err == nil {
				s.p = p
			}
		}
		if s.p == nil && name != "respawn" && name != "supervisord" {
			fmt.Fprintf(e.out, "warning: %s unavailable, its column reads n/a: %v\n", name, s.err)
		}
		e.slots = append(e.slots, s)
	}
}

func (e *env) log(s string) { fmt.Fprintln(e.out, s) }

// peers lists the chosen peers in column order; an unavailable one has a
// nil peer.
func (e *env) peers() []slot { return e.slots }

// newTable starts a table with a column per chosen peer.
func (e *env) newTable(title string) *table {
	t := &table{title: title}
	for _, s := range e.slots {
		t.peers = append(t.peers, s.name)
	}
	return t
}

// errSkipped marks// errSkipped marks a peer that -peers left out.
var errSkipped = errors.New("skipped by -peers")

// unavailable is the cell text for a peer that is not there.
func unavailable(s slot) figure {
	switch {
	case errors.Is(s.err, errSkipped):
		return missing("skipped")
	case s.name == "respawn":
		return missing("not built")
	default:
		return missing("not installed")
	}
}

// scratch makes a fresh directory for one run and returns a function that
// removes it (unless -keep).
func (e *env) scratch(name string) (string, func(), error) {
	dir := filepath.Join(e.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("create %s: %w", dir, err)
	}
	return dir, func() {
		if !e.opts.keep {
			os.RemoveAll(dir)
		}
	}, nil
}

// errorCell records a failed run: a short cell and the full error as a note.
func errorCell(t *table, who string, err error) figure {
	t.note("%s: %v", who, err)
	return missing("error")
}
