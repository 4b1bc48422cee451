package proc

import (
	"slices"
	"testing"
)

func TestOverlayEnv(t *testing.T) {
	cases := []struct {
		base, overlay, want []string
	}{
		{nil, nil, nil},
		{nil, []string{"A=1"}, []string{"A=1"}},
		{[]string{"A=1", "B=2"}, nil, []string{"A=1", "B=2"}},
		{[]string{"A=1", "B=2"}, []string{"B=3", "C=4"}, []string{"A=1", "B=3", "C=4"}},
		{[]string{"PATH=/bin", "HOME=/"}, []string{"PATH=/opt", "PATH=/usr"}, []string{"PATH=/usr", "HOME=/"}},
		{[]string{"EMPTY="}, []string{"EMPTY=x"}, []string{"EMPTY=x"}},
	}
	for _, c := range cases {
		base := slices.Clone(c.base)
		got := overlayEnv(c.base, c.overlay)
		if !slices.Equal(got, c.want) {
			t.Errorf("overlayEnv(%q, %q) = %q, want %q", c.base, c.overlay, got, c.want)
		}
		if !slices.Equal(base, c.base) {
			t.Errorf("overlayEnv modified its base: %q", c.base)
		}
	}
}
