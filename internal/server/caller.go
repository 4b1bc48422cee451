package server

import "context"

// Caller is who is on the other end of a connection.
type Caller struct {
	UID, GID, Pid int
	// Transport is "unix" or "http".
	Transport string
}

type callerKey struct{}

// CallerFrom returns the caller recorded for a request's connection.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

func withCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}
