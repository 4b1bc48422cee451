package discover

import "strings"

// InCgroup reports whether cgroup path is dir or below it.
func InCgroup(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}
