package version

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFrom(t *testing.T) {
	stamp := []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}
	g := runtime.Version()
	cases := []struct {
		version, commit, main string
		settings              []debug.BuildSetting
		want                  string
	}{
		{"", "", "(devel)", nil, "respawn dev (commit unknown, " + g + ")"},
		{"", "", "(devel)", stamp, "respawn dev (commit 0123456789ab, modified, " + g + ")"},
		{"", "", "v1.2.3", stamp[:1], "respawn v1.2.3 (commit 0123456789ab, " + g + ")"},
		// Link-time values win, and a stamp does not mark them modified.
		{"v2.0.0", "feedface", "(devel)", stamp, "respawn v2.0.0 (commit feedface, " + g + ")"},
	}
	for _, c := range cases {
		if got := from(c.version, c.commit, c.main, c.settings).String(); got != c.want {
			t.Errorf("from(%q, %q, %q, %v) = %q, want %q", c.version, c.commit, c.main, c.settings, got, c.want)
		}
	}
}
