package main

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// options is what the command line chose.
type options struct {
	only    []string      // scenario letters, in a-d order
	sizes   []int         // fleet sizes for (b) and (c)
	idle    time.Duration // idle window for (c) and (e)
	gaps    int           // respawn gaps to collect in (a)
	peerMax time.Duration // bound on supervisord's collection time in (a)
	peerGap int           // supervisord gaps to collect in (a)
	mb      int           // payload size for (d), in MB (10^6 bytes)
	runs    int           // repetitions of (b); the median is reported
	respawn string        // prebuilt respawn binary; empty means build ./cmd/respawn
	keep    bool          // keep the work directory for inspection
	peers   []string      // which supervisors to measure, in allPeers order
	storm   int           // services in (f) and (g)
	window  time.Duration // CPU window of (f)
	queries int           // status commands timed per peer and kind in (f) and (g)
}

// errUsage marks a command line that names something that does not exist.
var errUsage = errors.New("bad usage")

var scenarios = []string{"a", "b", "c", "d", "e", "f", "g"}

// allPeers is every supervisor the bench knows, in column order.
var allPeers = []string{"respawn", "supervisord", "s6", "daemontools"}

func parseOptions(fs *flag.FlagSet, args []string) (options, error) {
	var o options
	only := fs.String("only", strings.Join(scenarios, ","), "scenarios to run, comma-separated: a (crash→respawn gap), b (start N services), c (idle with N services), d (output capture), e (idle with N services and top and the dashboard attached), f (crash storm: CPU and status latency), g (status latency at rest)")
	sizes := fs.String("n", "1000", "fleet sizes for (b) and (c), comma-separated")
	// Three minutes: a Go supervisor idle for two is given a collection
	// by its runtime, part of what idling costs.
	fs.DurationVar(&o.idle, "idle", 3*time.Minute, "idle measurement window for (c) and (e)")
	fs.IntVar(&o.gaps, "gaps", 500, "crash→respawn gaps to collect from respawn in (a)")
	fs.IntVar(&o.peerGap, "peer-gaps", 20, "crash→respawn gaps to collect from each other peer in (a)")
	fs.DurationVar(&o.peerMax, "peer-max", 30*time.Second, "longest time to collect another peer's gaps in (a)")
	fs.IntVar(&o.storm, "storm", 200, "services in the crash storm (f) and at rest (g)")
	fs.DurationVar(&o.window, "window", 20*time.Second, "CPU measurement window of the crash storm (f)")
	fs.IntVar(&o.queries, "queries", 200, "status commands timed per peer and kind in (f) and (g)")
	fs.IntVar(&o.mb, "mb", 200, "output volume for (d), in MB (10^6 bytes)")
	fs.IntVar(&o.runs, "runs", 3, "repetitions of (b); the median is reported")
	fs.StringVar(&o.respawn, "respawn", "", "use this respawn binary instead of building ./cmd/respawn")
	peers := fs.String("peers", strings.Join(allPeers, ","), "supervisors to measure, comma-separated: "+strings.Join(allPeers, ", "))
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (configs, logs) after the run")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	var err error
	if o.only, err = parseOnly(*only); err != nil {
		return o, err
	}
	if o.peers, err = parsePeers(*peers); err != nil {
		return o, err
	}
	if o.sizes, err = parseSizes(*sizes); err != nil {
		return o, err
	}
	switch {
	case o.idle < time.Second:
		return o, fmt.Errorf("%w: -idle must be at least 1s, got %v", errUsage, o.idle)
	case o.gaps < 1 || o.peerGap < 1:
		return o, fmt.Errorf("%w: -gaps and -peer-gaps must be at least 1", errUsage)
	case o.peerMax < time.Second:
		return o, fmt.Errorf("%w: -peer-max must be at least 1s, got %v", errUsage, o.peerMax)
	case o.mb < 1 || o.mb > 10_000:
		return o, fmt.Errorf("%w: -mb must be within 1..10000, got %d", errUsage, o.mb)
	case o.runs < 1 || o.runs > 100:
		return o, fmt.Errorf("%w: -runs must be within 1..100, got %d", errUsage, o.runs)
	case o.storm < 2 || o.storm > 10_000:
		return o, fmt.Errorf("%w: -storm must be within 2..10000, got %d", errUsage, o.storm)
	case o.window < time.Second:
		return o, fmt.Errorf("%w: -window must be at least 1s, got %v", errUsage, o.window)
	case o.queries < 1 || o.queries > 100_000:
		return o, fmt.Errorf("%w: -queries must be within 1..100000, got %d", errUsage, o.queries)
	}
	return o, nil
}

func parseOnly(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if !slices.Contains(scenarios, f) {
			return nil, fmt.Errorf("%w: unknown scenario %q in -only (want one of %s)", errUsage, f, strings.Join(scenarios, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: -only names no scenario", errUsage)
	}
	slices.Sort(out)
	return out, nil
}

// parsePeers returns the named peers in allPeers order, so that columns
// keep one order whatever the command line's.
func parsePeers(s string) ([]string, error) {
	var named []string
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if !slices.Contains(allPeers, f) {
			return nil, fmt.Errorf("%w: unknown peer %q in -peers (want one of %s)", errUsage, f, strings.Join(allPeers, ", "))
		}
		named = append(named, f)
	}
	var out []string
	for _, p := range allPeers {
		if slices.Contains(named, p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: -peers names no supervisor", errUsage)
	}
	return out, nil
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%w: -n: %q is not a number", errUsage, f)
		}
		// The upper bound keeps a typo from exhausting the PID space.
		if n < 1 || n > 10_000 {
			return nil, fmt.Errorf("%w: -n: %d is outside 1..10000", errUsage, n)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: -n names no size", errUsage)
	}
	return out, nil
}

func (o options) has(scenario string) bool { return slices.Contains(o.only, scenario) }

func (o options) measures(peer string) bool { return slices.Contains(o.peers, peer) }
