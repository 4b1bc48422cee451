package lazy

import (
	"sync"
	"testing"
)

func TestBuiltOnceOnFirstGet(t *testing.T) {
	builds := 0
	v := &Value[map[string]int]{Build: func() map[string]int { builds++; return map[string]int{"a": 1} }}
	if builds != 0 {
		t.Fatal("built before the first Get")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = v.Get()["a"] }()
	}
	wg.Wait()
	if builds != 1 || v.Get()["a"] != 1 {
		t.Fatalf("built %d times, value %v", builds, v.Get())
	}
}
