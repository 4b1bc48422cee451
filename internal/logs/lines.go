package logs

import (
	"bytes"
	"time"
)

const (
	// maxLine is the longest line kept whole; longer ones become pieces of this size.
	// It also bounds a stream's carry buffer.
	maxLine = 64 << 10
	// readSize is the size of one read from a stream.
	readSize = 64 << 10
	// outSize bounds the formatted output held for one write: the few reads a stream
	// gets in one round go out together. A read of short lines can expand past it (a
	// 64 KiB read of bare newlines is 2 MiB formatted); it then goes out in several
	// writes, each ending on a line boundary.
	outSize = 512 << 10
	// maxReads bounds the reads gathered into one write.
	maxReads = 8
)

// lineWriter turns raw reads into formatted lines and hands them to the stream's sink
// in big writes: one per read, or one for several reads of a stream when the caller
// flushes after them (fewer, larger writes cost the kernel less per byte). One
// lineWriter serves many streams, one at a time.
type lineWriter struct {
	out      []byte
	lines    int              // lines in out
	reads    [maxReads]int    // offsets in out where the lines of each read begin
	nreads   int              // entries used in reads
	ringFrom int              // first line in out not yet in the sink's ring
	starts   [ringLines]int32 // offsets in out of the last ringLines lines, by line number mod ringLines
	prefix   [prefixLen]byte
	when     time.Time
	st       *attachment
}

func newLineWriter() *lineWriter {
	return &lineWriter{out: make([]byte, 0, outSize)}
}

// begin starts the lines of one read: they share the time it was read, so the prefix is
// formatted once here rather than per line.
func (w *lineWriter) begin(st *attachment, now time.Time) {
	if st != w.st || w.nreads == maxReads {
		w.flush()
	}
	w.st = st
	w.reads[w.nreads] = len(w.out)
	w.nreads++
	w.when = now.UTC().Truncate(time.Microsecond)
	appendPrefix(w.prefix[:0], w.when, st.kind)
}

// feed handles one read of st: it completes the pending partial line, emits every
// whole line and keeps the trailing partial line in st.carry. The lines stay in the
// output buffer until flush (or until it fills).
func (w *lineWriter) feed(st *attachment, data []byte, now time.Time) {
	w.begin(st, now)
	if len(st.carry) > 0 {
		data = w.joinCarry(st, data)
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if i > maxLine {
			w.emit(data[:maxLine])
			data = data[maxLine:]
			continue
		}
		w.emit(data[:i])
		data = data[i+1:]
	}
	for len(data) > maxLine {
		w.emit(data[:maxLine])
		data = data[maxLine:]
	}
	switch {
	case len(data) > 0:
		st.carry = appendCarry(st.carry, data)
	case len(st.carry) == 0:
		// Nothing pending: free the carry so an idle stream holds no buffer.
		st.carry = nil
	}
	w.pushRing()
}

// joinCarry completes st's pending partial line from data and returns the rest of data.
func (w *lineWriter) joinCarry(st *attachment, data []byte) []byte {
	room := maxLine - len(st.carry)
	i := bytes.IndexByte(data[:min(len(data), room+1)], '\n')
	switch {
	case i >= 0:
		w.emit2(st.carry, data[:i])
		st.carry = st.carry[:0]
		return data[i+1:]
	case len(data) <= room:
		st.carry = appendCarry(st.carry, data)
		return nil
	default:
		// The line outgrows maxLine: its first piece goes out now.
		w.emit2(st.carry, data[:room])
		st.carry = st.carry[:0]
		return data[room:]
	}
}

// finish writes what is buffered for st and its pending partial line, if any, as a
// whole line: the stream ended.
func (w *lineWriter) finish(st *attachment, now time.Time) {
	if len(st.carry) > 0 {
		w.begin(st, now)
		w.emit(st.carry)
		w.pushRing()
	}
	if w.st == st {
		w.flush()
	}
	st.carry = nil
}

// emit appends one line. It runs once per line: copies only, no calls but memmove.
func (w *lineWriter) emit(text []byte) {
	n := len(w.out)
	end := n + prefixLen + len(text) + 1
	if end > cap(w.out) {
		w.flushFull()
		n, end = 0, prefixLen+len(text)+1
	}
	w.starts[w.lines%ringLines] = int32(n)
	w.lines++
	out := w.out[:end]
	*(*[prefixLen]byte)(out[n:]) = w.prefix
	copy(out[n+prefixLen:], text)
	out[end-1] = '\n'
	w.out = out
}

// emit2 appends one line made of a and b (a pending partial line and its end).
func (w *lineWriter) emit2(a, b []byte) {
	if len(w.out)+prefixLen+len(a)+len(b)+1 > cap(w.out) {
		w.flushFull()
	}
	w.starts[w.lines%ringLines] = int32(len(w.out))
	w.lines++
	w.out = append(w.out, w.prefix[:]...)
	w.out = append(w.out, a...)
	w.out = append(w.out, b...)
	w.out = append(w.out, '\n')
}

// flushFull makes room in the middle of a read: what is buffered goes out, and the
// rest of the read continues as a new read at the start of the buffer.
func (w *lineWriter) flushFull() {
	w.pushRing()
	w.flush()
	w.reads[0] = 0
	w.nreads = 1
}

// pushRing records the lines of the current read in the sink's ring of recent lines,
// and in the run's tail when the stream has one.
func (w *lineWriter) pushRing() {
	if w.lines > w.ringFrom {
		w.st.sink.recent.push(w.out, w.ringFrom, w.lines, &w.starts, w.when, w.st.kind)
		if w.st.tail != nil {
			w.st.tail.push(w.out, w.ringFrom, w.lines, &w.starts, w.when, w.st.kind)
		}
		w.ringFrom = w.lines
	}
}

// flush writes the buffered lines to the sink.
func (w *lineWriter) flush() {
	if w.lines > 0 {
		w.st.sink.writeChunk(w.out, w.lines, w.reads[:w.nreads])
	}
	w.out = w.out[:0]
	w.lines = 0
	w.ringFrom = 0
	w.nreads = 0
}

// appendCarry appends data to carry, growing it in steps but never past maxLine, so a
// short partial line costs a short buffer.
func appendCarry(carry, data []byte) []byte {
	need := len(carry) + len(data)
	if need > cap(carry) {
		c := min(maxLine, max(need, 2*cap(carry), 256))
		nc := make([]byte, len(carry), c)
		copy(nc, carry)
		carry = nc
	}
	return append(carry, data...)
}
