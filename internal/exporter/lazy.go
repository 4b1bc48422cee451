package exporter

import "sync"

// lazy is a value built the first time it is needed: a map or a regular
// expression at package level is otherwise built at every start of the
// binary, by every command, for the few that need it. A lazy declared at
// package level with a func literal is laid out by the compiler and costs
// nothing at start (sync.OnceValue's closures are allocated then).
type lazy[T any] struct {
	once  sync.Once
	build func() T
	v     T
}

func (l *lazy[T]) get() T {
	l.once.Do(func() { l.v = l.build() })
	return l.v
}
