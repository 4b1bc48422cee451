package mainstack

import "testing"

func TestGrow(t *testing.T) {
	if grow(5) != 0 {
		t.Fatal("grow: the slice's first byte is not zero")
	}
	if grow(0) != 1 {
		t.Fatal("grow: the slice's first byte is not the one set")
	}
}
