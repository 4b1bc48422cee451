//go:build !linux

package logs

// watchFile has no inotify here: followers poll.
func watchFile(string) (wake <-chan struct{}, stop func(), ok bool) { return nil, nil, false }
