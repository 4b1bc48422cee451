package gcpace

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// restore puts the runtime's defaults back once a test changed them.
func restore(t *testing.T) {
	t.Cleanup(func() {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
	})
}

// gcPercent reads the collector's percentage without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// keep holds what a test wants live across collections.
var keep [][]byte

// cycles returns how many collections have ended.
func cycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// set is a limit the chain set, after how many collections.
type set struct {
	limit  int64
	cycles uint64
}

// nextLimit collects (gc does) and returns the limit the chain set after it.
// Collections an allocation started may have set others before; and a
// sentinel made while a collection marks survives it, so that collection
// sets nothing: collect again until one does.
func nextLimit(t *testing.T, limits <-chan set, gc func()) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		gc()
		n := cycles()
		wait := time.After(100 * time.Millisecond)
	drain:
		for {
			select {
			case s := <-limits:
				if s.cycles >= n {
					return s.limit
				}
			case <-wait:
				break drain
			}
		}
	}
	t.Fatal("no limit set within 10 s of collections")
	return 0
}

func TestFollowPacesByALimitThatFollowsTheLiveHeap(t *testing.T) {
	restore(t)
	limits := make(chan set, 64)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); runtime.GC() })
	follow(func(limit int64) bool {
		select {
		case <-stop:
			return false
		case limits <- set{limit, cycles()}:
			return true
		}
	})
	if p := gcPercent(); p != -1 {
		t.Fatalf("GOGC after Follow: %d, want off (-1)", p)
	}
	if l := debug.SetMemoryLimit(-1); l == math.MaxInt64 || l < minRoom {
		t.Fatalf("memory limit after Follow: %d, want one set", l)
	}
	before := nextLimit(t, limits, runtime.GC)

	// 64 MiB more live heap: the next limit gives it as much room again.
	const grown = 64 << 20
	for range grown >> 20 {
		keep = append(keep, make([]byte, 1<<20))
	}
	grownLimit := nextLimit(t, limits, runtime.GC)
	if grownLimit < before+2*grown-(8<<20) {
		t.Errorf("limit with 64 MiB more live: %d, was %d: want about 128 MiB more", grownLimit, before)
	}
	if l := debug.SetMemoryLimit(-1); l != grownLimit {
		t.Errorf("the runtime's limit %d, the one set %d", l, grownLimit)
	}

	// Once it is garbage, the limit follows it down: at the collection
	// after the one that freed it, once the runtime returned it.
	keep = nil
	collectAndReturn := func() { debug.FreeOSMemory(); runtime.GC() }
	if shrunk := nextLimit(t, limits, collectAndReturn); shrunk > grownLimit-grown {
		t.Errorf("limit once the 64 MiB are gone: %d, was %d", shrunk, grownLimit)
	}
}

func TestFollowLeavesGOGCAndGOMEMLIMITAlone(t *testing.T) {
	restore(t)
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "200")
			Follow()
			if p := gcPercent(); p != 100 {
				t.Errorf("GOGC after Follow with %s set: %d, want the default 100", env, p)
			}
			if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
				t.Errorf("memory limit after Follow with %s set: %d, want none", env, l)
			}
		})
	}
}

func TestStartLowersThePercentUnlessTheEnvironmentSetsOne(t *testing.T) {
	restore(t)
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	debug.SetGCPercent(100)
	Start()
	if got := gcPercent(); got != startPercent {
		t.Fatalf("after Start: GOGC=%d, want %d", got, startPercent)
	}
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		debug.SetGCPercent(100)
		t.Setenv(env, "200")
		Start()
		if got := gcPercent(); got != 100 {
			t.Errorf("Start with %s set: GOGC=%d, want it left at 100", env, got)
		}
		t.Setenv(env, "")
	}
}
