// Package aftergc calls a function after garbage collections.
package aftergc

import "runtime"

// sentinel is garbage at the next collection: its finalizer, run on the
// runtime's finalizer goroutine once that collection has swept, is how the
// package hears that a collection ended. It holds a pointer so that it is
// not a tiny allocation, which shares a block with others and may outlive
// many collections.
type sentinel struct{ _ *byte }

// Each calls f after each garbage collection, on the runtime's finalizer
// goroutine (one call at a time), until f returns false. A collection that
// begins before f's call for the last one ended is not heard of: the next
// sentinel, made while it marks, survives it.
func Each(f func() bool) {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		if f() {
			Each(f)
		}
	})
}
