package keeper

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/proc"
)

// roundTrip carries err the way the keeper does: encoded, through JSON, decoded.
func roundTrip(t *testing.T, err error) error {
	t.Helper()
	b, jerr := json.Marshal(&message{Op: opReply, ID: 1, Err: encodeError(err)})
	if jerr != nil {
		t.Fatal(jerr)
	}
	var m message
	if jerr := json.Unmarshal(b, &m); jerr != nil {
		t.Fatal(jerr)
	}
	return m.Err.decode()
}

func TestErrorRoundTripNil(t *testing.T) {
	if err := roundTrip(t, nil); err != nil {
		t.Fatalf("nil error came back as %v", err)
	}
}

func TestErrorRoundTripSpawnErrno(t *testing.T) {
	orig := fmt.Errorf("start web: %w", &proc.SpawnError{Op: "exec", Path: "/no/such/cmd", Err: syscall.ENOENT})
	err := roundTrip(t, orig)
	var se *proc.SpawnError
	if !errors.As(err, &se) {
		t.Fatalf("got %T %v, want a *proc.SpawnError", err, err)
	}
	if se.Op != "exec" || se.Path != "/no/such/cmd" {
		t.Errorf("Op, Path = %q, %q; want exec, /no/such/cmd", se.Op, se.Path)
	}
	if !errors.Is(err, syscall.ENOENT) {
		t.Errorf("errors.Is(%v, ENOENT) is false", err)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("errors.Is(%v, os.ErrNotExist) is false", err)
	}
}

func TestErrorRoundTripSpawnWrappedErrno(t *testing.T) {
	// The errno sits below a PathError, as os functions return it.
	inner := &os.PathError{Op: "chdir", Path: "/gone", Err: syscall.EACCES}
	err := roundTrip(t, &proc.SpawnError{Op: "chdir", Path: "/gone", Err: inner})
	var se *proc.SpawnError
	if !errors.As(err, &se) {
		t.Fatalf("got %T %v, want a *proc.SpawnError", err, err)
	}
	if !errors.Is(err, syscall.EACCES) || !errors.Is(err, os.ErrPermission) {
		t.Errorf("errno EACCES lost: %v", err)
	}
}

func TestErrorRoundTripSpawnWithoutErrno(t *testing.T) {
	err := roundTrip(t, &proc.SpawnError{Op: "user", Path: "nosuchuser", Err: errors.New("unknown user nosuchuser")})
	var se *proc.SpawnError
	if !errors.As(err, &se) {
		t.Fatalf("got %T %v, want a *proc.SpawnError", err, err)
	}
	if se.Op != "user" || se.Path != "nosuchuser" {
		t.Errorf("Op, Path = %q, %q; want user, nosuchuser", se.Op, se.Path)
	}
	if se.Err == nil || se.Err.Error() != "unknown user nosuchuser" {
		t.Errorf("inner error = %v, want the original text", se.Err)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		t.Errorf("an errno (%v) appeared from nowhere", errno)
	}
}

func TestErrorRoundTripSentinels(t *testing.T) {
	for _, sentinel := range []error{os.ErrProcessDone, proc.ErrNotChild, proc.ErrTracked, proc.ErrClosed} {
		t.Run(sentinel.Error(), func(t *testing.T) {
			orig := fmt.Errorf("pid 42: %w", sentinel)
			err := roundTrip(t, orig)
			if !errors.Is(err, sentinel) {
				t.Fatalf("errors.Is(%v, %v) is false", err, sentinel)
			}
			if !strings.Contains(err.Error(), "pid 42") {
				t.Errorf("the context of %q was lost: %q", orig, err)
			}
			var re *RemoteError
			if errors.As(err, &re) {
				t.Errorf("a known error came back as a RemoteError: %v", err)
			}
		})
	}
}

func TestErrorRoundTripUnknown(t *testing.T) {
	err := roundTrip(t, fmt.Errorf("ready log pattern: %w", errors.New("missing closing )")))
	var re *RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("got %T %v, want a *RemoteError", err, err)
	}
	if re.Msg != "ready log pattern: missing closing )" || err.Error() != re.Msg {
		t.Errorf("text = %q, want the original", re.Msg)
	}
	for _, s := range []error{os.ErrProcessDone, proc.ErrNotChild, proc.ErrTracked, proc.ErrClosed} {
		if errors.Is(err, s) {
			t.Errorf("an unknown error matches %v", s)
		}
	}
}

// socketPair returns both ends of a keeper–core socket as conns.
func socketPair(t *testing.T) (*conn, *conn) { return socketPairOf(t, false) }

// socketPairOf returns both ends as SOCK_STREAM conns (the POSIX path's
// framing) when stream, else as SOCK_SEQPACKET ones.
func socketPairOf(t *testing.T, stream bool) (*conn, *conn) {
	t.Helper()
	typ := unix.SOCK_SEQPACKET
	if stream {
		typ = unix.SOCK_STREAM
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := newConn(fds[0], stream), newConn(fds[1], stream)
	t.Cleanup(func() {
		a.close()
		b.close()
	})
	return a, b
}

func TestConnSendRecv(t *testing.T) { bothFramings(t, testConnSendRecv) }

func testConnSendRecv(t *testing.T, stream bool) {
	a, b := socketPairOf(t, stream)
	want := &message{Op: opSave, Name: "web", Blob: json.RawMessage(`{"restarts":3}`), Env: []string{"A=1"}}
	if err := a.send(want); err != nil {
		t.Fatal(err)
	}
	got, files, err := b.recv()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 0 {
		t.Errorf("got %d files, sent none", len(files))
	}
	if got.Op != want.Op || got.Name != want.Name || string(got.Blob) != string(want.Blob) || len(got.Env) != 1 || got.Env[0] != "A=1" {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestConnPassesPipes(t *testing.T) { bothFramings(t, testConnPassesPipes) }

func testConnPassesPipes(t *testing.T, stream bool) {
	a, b := socketPairOf(t, stream)
	var reads, writes []*os.File
	for range 2 {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			r.Close()
			w.Close()
		})
		reads, writes = append(reads, r), append(writes, w)
	}
	if err := a.send(&message{Op: opReply, ID: 7, Pid: 1234}, reads...); err != nil {
		t.Fatal(err)
	}
	// The sender's copies go away, as the keeper's do once sent: the
	// received files must stand on their own.
	for _, r := range reads {
		r.Close()
	}
	m, files, err := b.recv()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFiles(files)
	if m.ID != 7 || m.Pid != 1234 {
		t.Errorf("got %+v", m)
	}
	if len(files) != 2 {
		t.Fatalf("got %d files, want 2", len(files))
	}
	for i, f := range files {
		flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
		if err != nil {
			t.Fatal(err)
		}
		if flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("received fd %d is inherited by every exec", f.Fd())
		}
		text := fmt.Sprintf("through pipe %d\n", i)
		if _, err := writes[i].WriteString(text); err != nil {
			t.Fatal(err)
		}
		writes[i].Close()
		data, err := io.ReadAll(f)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != text {
			t.Errorf("pipe %d gave %q, want %q", i, data, text)
		}
	}
}

func TestConnTooLargeIsNotSent(t *testing.T) { bothFramings(t, testConnTooLargeIsNotSent) }

func testConnTooLargeIsNotSent(t *testing.T, stream bool) {
	a, b := socketPairOf(t, stream)
	big := `"` + strings.Repeat("x", maxMessage) + `"`
	err := a.send(&message{Op: opSave, Name: "big", Blob: json.RawMessage(big)})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("send of %d bytes: %v, want ErrTooLarge", len(big), err)
	}
	// Nothing reached the peer.
	buf := make([]byte, 16)
	if _, _, _, _, err := unix.Recvmsg(b.fd, buf, nil, unix.MSG_DONTWAIT|unix.MSG_PEEK); !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("peer's queue after a refused send: %v, want EAGAIN (empty)", err)
	}
	// And the connection still works.
	if err := a.send(&message{Op: opPong}); err != nil {
		t.Fatal(err)
	}
	m, _, err := b.recv()
	if err != nil || m.Op != opPong {
		t.Fatalf("after a refused send: %v, %v", m, err)
	}
}

func TestConnRecvTruncated(t *testing.T) {
	a, b := socketPair(t)
	raw := make([]byte, maxMessage+1024)
	for i := range raw {
		raw[i] = ' '
	}
	if err := unix.Sendmsg(a.fd, raw, nil, nil, 0); err != nil {
		// The socket buffer could not be raised this far here.
		t.Skipf("cannot send %d bytes raw: %v", len(raw), err)
	}
	if _, _, err := b.recv(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("recv of an oversized datagram: %v, want ErrTooLarge", err)
	}
}

func TestConnRecvGarbage(t *testing.T) {
	a, b := socketPair(t)
	if err := unix.Sendmsg(a.fd, []byte("{not json"), nil, nil, 0); err != nil {
		t.Fatal(err)
	}
	_, _, err := b.recv()
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("recv of garbage: %v, want a wrapped *json.SyntaxError", err)
	}
	if errors.Is(err, ErrPeerGone) {
		t.Errorf("garbage reported as the peer going away: %v", err)
	}
}

func TestConnPeerGone(t *testing.T) {
	a, b := socketPair(t)
	if err := a.send(&message{Op: opPing}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Shutdown(a.fd, unix.SHUT_RDWR); err != nil {
		t.Fatal(err)
	}
	// What was sent before the close still arrives, then the end.
	m, _, err := b.recv()
	if err != nil || m.Op != opPing {
		t.Fatalf("queued message: %v, %v", m, err)
	}
	if _, _, err := b.recv(); !errors.Is(err, ErrPeerGone) {
		t.Fatalf("recv after the peer closed: %v, want ErrPeerGone", err)
	}
}

// blockedOn reports whether a thread of this process is blocked in a system call
// whose first argument is fd, as /proc/self/task/*/syscall shows it.
func blockedOn(t *testing.T, fd int) bool {
	t.Helper()
	paths, err := filepath.Glob("/proc/self/task/*/syscall")
	if err != nil {
		t.Fatal(err)
	}
	arg := fmt.Sprintf("0x%x", fd)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		f := strings.Fields(string(b))
		if len(f) > 1 && f[0] != "running" && f[0] != "-1" && f[1] == arg {
			return true
		}
	}
	return false
}

// A receive waiting for the peer parks on the runtime's poller: no thread sits in
// recvmsg, which would keep the runtime's monitor thread polling.
func TestConnRecvWaitsWithoutSystemCall(t *testing.T) {
	a, b := socketPair(t)
	got := make(chan error, 1)
	go func() {
		_, _, err := b.recv()
		got <- err
	}()
	// Sampled for a while: the receive is waiting throughout, as nothing was sent.
	for range 50 {
		if blockedOn(t, b.fd) {
			t.Fatal("a thread is blocked in a system call on the connection")
		}
		time.Sleep(time.Millisecond)
	}
	if err := a.send(&message{Op: opSave, Name: "web"}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting receive did not return after a send")
	}
}
