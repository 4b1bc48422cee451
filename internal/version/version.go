// Package version reports the build's version, commit and Go version.
package version

import (
	"runtime"
	"runtime/debug"
)

// Version and Commit are set at link time with -ldflags "-X"; they fall back to
// what the Go toolchain recorded in the binary (the module version, and the
// VCS stamp `go build` writes when it builds inside a git checkout).
var (
	Version = ""
	Commit  = ""
)

// Info is the build's identity.
type Info struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	// Modified says the checkout had uncommitted changes when it was built.
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

// Get returns the build's identity.
func Get() Info {
	var settings []debug.BuildSetting
	mainVersion := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		settings, mainVersion = bi.Settings, bi.Main.Version
	}
	return from(Version, Commit, mainVersion, settings)
}

// from puts the identity together from the link-time values and the build
// info, link-time values first.
func from(version, commit, mainVersion string, settings []debug.BuildSetting) Info {
	i := Info{Version: version, Commit: commit, Go: runtime.Version()}
	if i.Version == "" && mainVersion != "" && mainVersion != "(devel)" {
		i.Version = mainVersion
	}
	stamped := i.Commit == ""
	for _, s := range settings {
		switch {
		case s.Key == "vcs.revision" && stamped:
			i.Commit = s.Value
		case s.Key == "vcs.modified" && stamped:
			i.Modified = s.Value == "true"
		}
	}
	if i.Version == "" {
		i.Version = "dev"
	}
	if i.Commit == "" {
		i.Commit = "unknown"
	}
	return i
}

// String is the one-line form `respawn version` prints: the version, the
// commit (its first 12 digits), "modified" for a build of uncommitted
// changes, and the Go version.
func (i Info) String() string {
	c := i.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if i.Modified {
		c += ", modified"
	}
	return "respawn " + i.Version + " (commit " + c + ", " + i.Go + ")"
}
