// Package lazy holds values built the first time they are needed.
package lazy

import "sync"

// Value is a value built by Build the first time Get is called: a map or a
// regular expression at package level is otherwise built at every start of
// the binary, by every command, for the few that need it. A Value declared at
// package level with a func literal is laid out by the compiler and costs
// nothing at start (sync.OnceValue's closures are allocated then).
type Value[T any] struct {
	Build func() T
	once  sync.Once
	v     T
}

// Get returns the value, building it on the first call.
func (l *Value[T]) Get() T {
	l.once.Do(func() { l.v = l.Build() })
	return l.v
}
