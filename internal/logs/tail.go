package logs

import (
	"sync"
	"time"
)

// MaxTailLines bounds the lines a Tail keeps: the capture hands a tail at most the last
// this many lines of each read, as it does the sink's ring.
const MaxTailLines = ringLines

// Tail keeps the last lines of one run of a service, from both streams, so that an exit
// can be explained with what the process printed just before it. Each line is cut to
// 512 bytes; a slot's buffer is allocated when a line first lands in it and reused
// after, so a quiet run costs nothing and a chatty one at most n × 512 bytes. Its
// methods are safe for concurrent use.
type Tail struct {
	mu    sync.Mutex // guards every field below: the capture writes, Lines reads
	max   int
	slots []tailSlot // circular once it holds max entries
	next  int        // index in slots of the oldest entry once full

	watchers []tailWatcher // pending Match calls; nil when none, see tailwatch.go
}

type tailSlot struct {
	micros int64 // Unix microseconds
	kind   Stream
	text   []byte
}

// NewTail returns a Tail keeping the last n lines; n is capped at MaxTailLines, and a
// Tail with n <= 0 keeps nothing.
func NewTail(n int) *Tail {
	return &Tail{max: min(max(n, 0), MaxTailLines)}
}

// Lines returns copies of the lines kept, oldest first. A nil Tail has none.
func (t *Tail) Lines() []Line {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.slots) == 0 {
		return nil
	}
	lines := make([]Line, 0, len(t.slots))
	for i := range t.slots {
		s := &t.slots[(t.next+i)%len(t.slots)]
		lines = append(lines, Line{Time: time.UnixMicro(s.micros).UTC(), Stream: s.kind, Text: string(s.text)})
	}
	return lines
}

// push records lines from..n-1 of out, a buffer of n lines in on-disk form read at when,
// as ring.push does; starts holds the offsets of the last ringLines lines, which cover
// every line a Tail can keep.
func (t *Tail) push(out []byte, from, n int, starts *[ringLines]int32, when time.Time, kind Stream) {
	if t.max == 0 {
		return
	}
	first := max(from, n-t.max)
	micros := when.UnixMicro()
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := first; i < n; i++ {
		start := int(starts[i%ringLines]) + prefixLen
		t.add(truncateText(out[start:lineEnd(out, n, starts, i)]), micros, kind)
	}
}

func (t *Tail) add(text []byte, micros int64, kind Stream) {
	var s *tailSlot
	if len(t.slots) < t.max {
		t.slots = append(t.slots, tailSlot{})
		s = &t.slots[len(t.slots)-1]
	} else {
		s = &t.slots[t.next]
		t.next = (t.next + 1) % len(t.slots)
	}
	s.micros, s.kind = micros, kind
	s.text = append(s.text[:0], text...)
	if len(t.watchers) > 0 {
		t.notifyWatchers(s.text)
	}
}
