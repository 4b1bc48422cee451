package keeper

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// bothFramings runs test over SOCK_SEQPACKET and over the POSIX path's
// framed SOCK_STREAM.
func bothFramings(t *testing.T, test func(t *testing.T, stream bool)) {
	t.Run("seqpacket", func(t *testing.T) { test(t, false) })
	t.Run("stream", func(t *testing.T) { test(t, true) })
}

// A stream delivers bytes, not messages: frames written a byte at a time,
// several in one write, and fds attached to one frame among others must
// come out as the messages sent, each with its own files.
func TestStreamFramesSurviveAnySplit(t *testing.T) {
	a, b := socketPairOf(t, true)
	frame := func(m *message, nfiles int) []byte {
		body, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
		return append(append(out, byte(nfiles)), body...)
	}
	// Three frames in one write, then one byte at a time.
	var burst []byte
	for i := range 3 {
		burst = append(burst, frame(&message{Op: opPong, ID: uint64(i)}, 0)...)
	}
	if _, err := unix.Write(a.fd, burst); err != nil {
		t.Fatal(err)
	}
	go func() {
		for _, c := range frame(&message{Op: opPong, ID: 3}, 0) {
			if _, err := unix.Write(a.fd, []byte{c}); err != nil {
				return
			}
		}
	}()
	for i := range 4 {
		m, files, err := b.recv()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if m.ID != uint64(i) || len(files) != 0 {
			t.Fatalf("message %d: got id %d with %d files", i, m.ID, len(files))
		}
	}
	// Messages with and without files, interleaved, sent as conn sends them.
	var pipes []*os.File
	for i := range 6 {
		var files []*os.File
		if i%2 == 0 {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(w, "pipe of message %d", i)
			w.Close()
			files = []*os.File{r}
			pipes = append(pipes, r)
		}
		if err := a.send(&message{Op: opReply, ID: uint64(100 + i)}, files...); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pipes {
		p.Close()
	}
	for i := range 6 {
		m, files, err := b.recv()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		want := 0
		if i%2 == 0 {
			want = 1
		}
		if m.ID != uint64(100+i) || len(files) != want {
			t.Fatalf("message %d: got id %d with %d files, want %d", i, m.ID, len(files), want)
		}
		for _, f := range files {
			data, err := io.ReadAll(f)
			f.Close()
			if err != nil || string(data) != fmt.Sprintf("pipe of message %d", i) {
				t.Errorf("message %d's file gave %q, %v", i, data, err)
			}
		}
	}
}

// A frame that announces more than a message may hold is refused before
// anything is read into it; one cut short by the peer's end is the peer
// going away.
func TestStreamRefusesBadFrames(t *testing.T) {
	a, b := socketPairOf(t, true)
	hdr := binary.BigEndian.AppendUint32(nil, maxMessage+1)
	if _, err := unix.Write(a.fd, append(hdr, 0)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.recv(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized frame: %v, want ErrTooLarge", err)
	}
	a, b = socketPairOf(t, true)
	hdr = binary.BigEndian.AppendUint32(nil, 10)
	if _, err := unix.Write(a.fd, append(hdr, maxFrameFiles+1)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.recv(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("frame with too many files: %v, want ErrTooLarge", err)
	}
	a, b = socketPairOf(t, true)
	if _, err := unix.Write(a.fd, append(binary.BigEndian.AppendUint32(nil, 100), 0, '{')); err != nil {
		t.Fatal(err)
	}
	unix.Shutdown(a.fd, unix.SHUT_WR)
	if _, _, err := b.recv(); !errors.Is(err, ErrPeerGone) {
		t.Fatalf("frame cut short: %v, want ErrPeerGone", err)
	}
	a, b = socketPairOf(t, true)
	if _, err := unix.Write(a.fd, append(binary.BigEndian.AppendUint32(nil, 9), append([]byte{0}, "{not json"...)...)); err != nil {
		t.Fatal(err)
	}
	var se *json.SyntaxError
	if _, _, err := b.recv(); !errors.As(err, &se) {
		t.Fatalf("garbage frame: %v, want a wrapped *json.SyntaxError", err)
	}
}
