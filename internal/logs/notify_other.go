//go:build !linux

package logs

// watchFile has no inotify here: followers poll.
func watchFile(string, *waiter, int) (stop func(), ok bool) { return nil, false }
