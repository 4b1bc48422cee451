package format

import "testing"

func TestMemory(t *testing.T) {
	for b, want := range map[uint64]string{0: "0B", 812: "812B", 2048: "2K", 47_395_635: "45.2M", 200 << 20: "200M", 3 << 30: "3.0G"} {
		if got := Memory(&b); got != want {
			t.Errorf("Memory(%d) = %q, want %q", b, got, want)
		}
	}
}
