//go:build linux || darwin || freebsd

package keeper

import (
	"bytes"
	"io"
	"os"
)

// maxCoreLine bounds a line of the core's output held while its end is awaited:
// longer ones are written in pieces.
const maxCoreLine = 64 << 10

// copyCoreOutput copies r, the core's output, to the supervisor's log in whole lines
// until r ends, then closes r. A write that fails loses its lines (counted in
// outDropped) and the copy goes on: the pipe is always drained, so the core neither
// blocks on a full disk nor loses its log once the disk has room again.
func (k *Keeper) copyCoreOutput(r *os.File) {
	defer r.Close()
	buf := make([]byte, maxCoreLine)
	have := 0
	for {
		n, err := r.Read(buf[have:])
		have += n
		end := bytes.LastIndexByte(buf[:have], '\n') + 1
		if end == 0 && (have == len(buf) || err != nil) {
			end = have // a line too long to hold, or the last one
		}
		if end > 0 {
			k.writeOutput(buf[:end])
			have = copy(buf, buf[end:have])
		}
		if err != nil {
			return
		}
	}
}

// writeOutput writes lines of the core's output, ended by a newline if they are not.
func (k *Keeper) writeOutput(b []byte) {
	if b[len(b)-1] != '\n' {
		b = append(b, '\n') // past the bytes read: nothing held is overwritten
	}
	k.noteCoreError(b)
	_, err := k.out.Write(b)
	if err != nil {
		k.outDropped.Add(uint64(bytes.Count(b, []byte{'\n'})))
	}
	if k.outDropping.Swap(err != nil) != (err != nil) {
		k.wakeDrops()
	}
}

// output is where the core's output goes: the supervisor's log file, else stderr.
func (o *Options) output() io.Writer {
	if o.Log != nil {
		return o.Log
	}
	return os.Stderr
}

// coreErrorPrefix starts the line a core prints when it fails.
const coreErrorPrefix = "respawn: "

// noteCoreError keeps the last error line among lines b of the core's
// output, so that a core that fails before it is ready can be told why
// (a port in use, say) in `up`'s answer, not only in the log.
func (k *Keeper) noteCoreError(b []byte) {
	for line := range bytes.Lines(b) {
		if bytes.HasPrefix(line, []byte(coreErrorPrefix)) {
			msg := string(bytes.TrimSpace(line[len(coreErrorPrefix):]))
			if len(msg) > 1024 {
				msg = msg[:1024]
			}
			k.coreErr.Store(&msg)
		}
	}
}
