package gcpace

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"

	"github.com/respawn-sh/respawn/internal/aftergc"
)

// Follow stops the collector's percentage trigger (GOGC) and, with it, the
// collection the runtime forces every two minutes in a process that
// allocates nothing, and paces collections by a memory limit instead: set
// now and again after every collection to what the runtime holds then plus
// the live heap, the room GOGC=100 gives (at least minRoom, as GOGC's
// smallest goal).
//
// A supervisor at rest allocates almost nothing, so under GOGC its only
// collections are the forced ones: each scans the whole heap and reads back
// the binary's pages that codepages released, for nothing. Under load the
// heap grows by one live heap between collections, as it did.
//
// A process started with GOGC or GOMEMLIMIT set keeps what they say: Follow
// does nothing there. Only the first call in a process does anything.
func Follow() {
	if envSets() {
		return
	}
	once.Do(func() { follow(nil) })
}

// once makes Follow arm one chain of collections per process.
var once sync.Once

// follow is Follow without the environment and the once, for tests:
// afterGC, when set, is called with each limit set after a collection; it
// returns false to stop the chain.
func follow(afterGC func(limit int64) bool) {
	setLimit()
	debug.SetGCPercent(-1)
	aftergc.Each(func() bool {
		limit := setLimit()
		return afterGC == nil || afterGC(limit)
	})
}

// The runtime figures the limit is made of.
const (
	totalName    = "/memory/classes/total:bytes"
	releasedName = "/memory/classes/heap/released:bytes"
	liveName     = "/gc/heap/live:bytes"
)

// minRoom is the least room given to the heap's growth: the runtime's
// smallest heap goal under GOGC=100.
const minRoom = 4 << 20

// setLimit sets the memory limit to what the runtime holds plus the live
// heap (at least minRoom), and returns it.
func setLimit() int64 {
	s := []metrics.Sample{{Name: totalName}, {Name: releasedName}, {Name: liveName}}
	metrics.Read(s)
	held := s[0].Value.Uint64() - s[1].Value.Uint64()
	limit := held + max(s[2].Value.Uint64(), minRoom)
	debug.SetMemoryLimit(int64(limit))
	return int64(limit)
}

// startPercent is the collector's percentage from Start until Follow.
const startPercent = 25

// Start makes the collector run at GOGC=25 until Follow, in a process about
// to load a config and start its services. What they leave live (a
// service's actor, its config, its process handle) is allocated among
// several times as much garbage (the config's YAML nodes, each spawn's
// messages); under GOGC=100 the heap doubles between collections, and the
// survivors end up spread over twice the spans they need, each kept whole.
// At 1,000 services that is about 0.7 MB of the core's heap at rest, for
// about 20 more collections of a small heap during the start.
//
// Like Follow, it does nothing when GOGC or GOMEMLIMIT is set.
func Start() {
	if envSets() {
		return
	}
	debug.SetGCPercent(startPercent)
}

// envSets reports whether the environment paces the collector itself.
func envSets() bool {
	return os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != ""
}
