package aftergc

import (
	"runtime"
	"testing"
	"time"
)

func TestEachCallsAfterCollectionsUntilFalse(t *testing.T) {
	calls := make(chan int, 16)
	n := 0
	Each(func() bool {
		n++
		calls <- n
		return n < 3
	})
	got := 0
	for deadline := time.Now().Add(10 * time.Second); got < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls within 10 s of collections, want 3", got)
		}
		runtime.GC()
		select {
		case got = <-calls:
		case <-time.After(10 * time.Millisecond):
		}
	}
	// The chain ended: more collections call nothing.
	for range 5 {
		runtime.GC()
	}
	select {
	case c := <-calls:
		t.Fatalf("call %d after f returned false", c)
	case <-time.After(100 * time.Millisecond):
	}
}
