package codepages

import (
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"
)

// collections runs keepReleased with every and reports, for each collection
// it hears of, whether it released. The chain ends with the test.
func collections(t *testing.T, every time.Duration) <-chan bool {
	t.Helper()
	cycles := make(chan bool, 64)
	var stop atomic.Bool
	ended := make(chan struct{})
	keepReleased(slog.New(slog.DiscardHandler), every, func(released bool) bool {
		if stop.Load() {
			close(ended)
			return false
		}
		select {
		case cycles <- released:
		default:
		}
		return true
	})
	t.Cleanup(func() {
		stop.Store(true)
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
			runtime.GC()
			select {
			case <-ended:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		t.Error("the chain of collections did not end")
	})
	return cycles
}

// nextCycle collects until a collection after this call reports, and
// returns whether it released.
func nextCycle(t *testing.T, cycles <-chan bool) bool {
	t.Helper()
	for {
		select {
		case <-cycles:
		default:
			goto drained
		}
	}
drained:
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		runtime.GC()
		select {
		case r := <-cycles:
			return r
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("no collection was reported")
	return false
}

// After each collection the pages are released again, and what is read
// comes back each time.
func TestKeepReleasedAfterEachCollection(t *testing.T) {
	cycles := collections(t, 0)
	want := sum(table)
	for round := 1; round <= 2; round++ {
		if got := sum(table); got != want {
			t.Fatalf("round %d: the table reads %d, %d at first", round, got, want)
		}
		if in, all := present(t); in != all {
			t.Fatalf("round %d: after reading the table %d of its %d pages are mapped", round, in, all)
		}
		if !nextCycle(t, cycles) {
			t.Fatalf("round %d: the collection did not release with every 0", round)
		}
		if in, all := present(t); in > 32 {
			t.Errorf("round %d: after the collection %d of the table's %d pages are still mapped", round, in, all)
		}
	}
}

// Within every of the last release a collection leaves the pages alone.
func TestKeepReleasedAtMostOnceAPeriod(t *testing.T) {
	cycles := collections(t, time.Hour)
	if sum(table) == 0 {
		t.Fatal("the table is empty")
	}
	if in, all := present(t); in != all {
		t.Fatalf("after reading the table %d of its %d pages are mapped", in, all)
	}
	if released := nextCycle(t, cycles); released {
		t.Fatal("a collection released within the hour after the first release")
	}
	if in, all := present(t); in != all {
		t.Errorf("after a collection within the period %d of the table's %d pages are mapped", in, all)
	}
}

// Without any collection, the pages are released once more when every has
// passed: what ran after the first release does not stay.
func TestKeepReleasedOnceMoreAfterAPeriod(t *testing.T) {
	// No collection may release them instead: none runs but by request.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	_ = collections(t, 300*time.Millisecond)
	if sum(table) == 0 {
		t.Fatal("the table is empty")
	}
	if in, all := present(t); in != all {
		t.Fatalf("after reading the table %d of its %d pages are mapped", in, all)
	}
	for end := time.Now().Add(10 * time.Second); ; {
		in, all := present(t)
		if in <= 32 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("10 s after the start %d of the table's %d pages are still mapped", in, all)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
