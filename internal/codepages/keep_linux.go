package codepages

import (
	"log/slog"
	"sync"
	"time"

	"github.com/respawn-sh/respawn/internal/aftergc"
)

// KeepReleased releases the binary's pages now (see Release), once more
// when every has passed, and again after a garbage collection that ends at
// least every after the last release.
//
// A collection faults part of the binary back in: it reads the stack maps of
// every goroutine's frames and the type of every object it scans (about
// 1.8 MB in each of a keeper and a core with 1,000 services). Releasing
// them after it costs a
// read of /proc/self/smaps and, at the next collection, the faults that
// bring them back (about 2 ms of CPU on a small VM); under load, with
// collections every second, every bounds it to one release a period.
//
// Only the first call in a process does anything.
func KeepReleased(log *slog.Logger, every time.Duration) {
	keepOnce.Do(func() { keepReleased(log, every, nil) })
}

// keepOnce makes KeepReleased arm one chain of collections per process.
var keepOnce sync.Once

// keepReleased is KeepReleased without the once, for tests: afterGC, when
// set, is called after each collection's decision (on the finalizer
// goroutine), with whether it released; it returns false to stop the chain.
func keepReleased(log *slog.Logger, every time.Duration, afterGC func(released bool) bool) {
	Release(log)
	// mu guards last: the finalizer goroutine and the timer below both read
	// and set it.
	var mu sync.Mutex
	last := time.Now()
	releaseIfDue := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < every {
			return false
		}
		Release(log)
		last = time.Now()
		return true
	}
	// What follows ready (the spawns still under way) runs code after this
	// first release, and a process whose collections gcpace paces may see
	// none at rest: release once more when every has passed.
	time.AfterFunc(every, func() { releaseIfDue() })
	aftergc.Each(func() bool {
		released := releaseIfDue()
		return afterGC == nil || afterGC(released)
	})
}
