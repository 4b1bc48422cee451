// Package mainstack grows the main goroutine's stack once, before the other
// packages are initialised. It imports nothing, so it is initialised among
// the first.
//
// The main goroutine starts on 2 KiB and runs every package's
// initialisation, then main: its stack grows to 4, 8 and 16 KiB on the
// way, each time copied, and each copy walks every frame then on it, reading
// the frames' pointer maps from the binary's tables (pages that a short
// command touches for nothing else). Growing to 16 KiB here, with two
// frames on the stack, is one copy of almost nothing: on a small VM about
// 30 page faults fewer for a command such as status.
package mainstack

func init() { grow(0) }

// grow's frame needs more than half of 16 KiB, which makes the runtime
// give the goroutine a 16 KiB stack at once.
//
//go:noinline
func grow(i int) byte {
	var b [9 << 10]byte
	b[i] = 1
	return sink(b[:])
}

//go:noinline
func sink(b []byte) byte { return b[0] }
