package logs

import (
	"sync"
	"time"
	"unicode/utf8"
)

// Bounds of the in-memory ring of recent lines kept per sink.
const (
	ringLines   = 64
	ringBytes   = 8 << 10
	ringLineMax = 512
	ringMinBuf  = 512
)

type ringEntry struct {
	micros int64 // Unix microseconds
	off    uint16
	n      uint16
	kind   Stream
}

// ring keeps the last lines of a sink, truncated, for Recent. Its text buffer is
// allocated on the first line and grows up to ringBytes, so a quiet sink costs little.
type ring struct {
	mu    sync.Mutex // guards every field below: the capture writes, Recent reads
	buf   []byte     // circular text storage; texts of entries lie contiguously in order
	ents  *[ringLines]ringEntry
	first int // index in ents of the oldest entry
	count int
	used  int // bytes of buf held by entries
	end   int // offset in buf where the next text goes
}

// push records lines from..n-1 of out, a buffer of n lines in on-disk form, read at
// when; starts holds the offsets of its last lines by line number mod ringLines. Only
// the lines the ring can hold are looked at.
func (r *ring) push(out []byte, from, n int, starts *[ringLines]int32, when time.Time, kind Stream) {
	first, total := n, 0
	for first > max(from, n-ringLines) {
		l := min(lineEnd(out, n, starts, first-1)-int(starts[(first-1)%ringLines])-prefixLen, ringLineMax)
		if total+l > ringBytes {
			break
		}
		total += l
		first--
	}
	micros := when.UnixMicro()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := first; i < n; i++ {
		start := int(starts[i%ringLines]) + prefixLen
		r.add(truncateText(out[start:lineEnd(out, n, starts, i)]), micros, kind)
	}
}

// lineEnd returns the offset of the newline ending line i of a chunk of n lines.
func lineEnd(out []byte, n int, starts *[ringLines]int32, i int) int {
	if i == n-1 {
		return len(out) - 1
	}
	return int(starts[(i+1)%ringLines]) - 1
}

// truncateText cuts text to ringLineMax bytes, backing off to a rune start so that valid
// UTF-8 stays valid.
func truncateText(text []byte) []byte {
	if len(text) <= ringLineMax {
		return text
	}
	cut := ringLineMax
	for i := 0; i < utf8.UTFMax-1 && !utf8.RuneStart(text[cut]); i++ {
		cut--
	}
	if !utf8.RuneStart(text[cut]) {
		cut = ringLineMax // not UTF-8: cut bytes
	}
	return text[:cut]
}

func (r *ring) add(text []byte, micros int64, kind Stream) {
	l := len(text)
	for r.count > 0 && (r.count == ringLines || r.used+l > ringBytes) {
		r.used -= int(r.ents[r.first].n)
		r.first = (r.first + 1) % ringLines
		r.count--
	}
	if r.ents == nil {
		r.ents = new([ringLines]ringEntry)
	}
	if r.used+l > len(r.buf) {
		r.grow(r.used + l)
	}
	off := r.end
	if l > 0 {
		n := copy(r.buf[off:], text)
		copy(r.buf, text[n:])
		r.end = (off + l) % len(r.buf)
	}
	r.ents[(r.first+r.count)%ringLines] = ringEntry{micros: micros, off: uint16(off), n: uint16(l), kind: kind}
	r.count++
	r.used += l
}

// grow enlarges buf to hold need bytes, laying the entries out from offset 0.
func (r *ring) grow(need int) {
	size := max(len(r.buf)*2, ringMinBuf)
	for size < need {
		size *= 2
	}
	size = min(size, ringBytes)
	nb := make([]byte, size)
	pos := 0
	for i := range r.count {
		e := &r.ents[(r.first+i)%ringLines]
		a, b := r.text(*e)
		copy(nb[pos:], a)
		copy(nb[pos+len(a):], b)
		e.off = uint16(pos)
		pos += int(e.n)
	}
	r.buf = nb
	r.end = pos % size
}

// text returns an entry's text as up to two slices of buf, the second non-empty when the
// text wraps around the end.
func (r *ring) text(e ringEntry) (a, b []byte) {
	off, n := int(e.off), int(e.n)
	if off+n <= len(r.buf) {
		return r.buf[off : off+n], nil
	}
	return r.buf[off:], r.buf[:off+n-len(r.buf)]
}

// last returns copies of the last n entries, oldest first.
func (r *ring) last(n int) []Line {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := min(n, r.count)
	if k <= 0 {
		return nil
	}
	lines := make([]Line, k)
	for i := range k {
		e := r.ents[(r.first+r.count-k+i)%ringLines]
		a, b := r.text(e)
		text := string(a)
		if len(b) > 0 {
			text += string(b)
		}
		lines[i] = Line{Time: time.UnixMicro(e.micros).UTC(), Stream: e.kind, Text: text}
	}
	return lines
}
