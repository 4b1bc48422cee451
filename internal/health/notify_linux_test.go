package health

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func listenTest(t *testing.T) (*Notify, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	me := os.Getpid()
	n, err := ListenNotify(path, func(pid int) bool { return pid == me })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, path
}

func send(t *testing.T, path, msg string) {
	t.Helper()
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// waitStatus polls until n's status is want: datagrams are handled in order, so every
// one sent before it has been handled then.
func waitStatus(t *testing.T, n *Notify, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n.Status() != want {
		if time.Now().After(deadline) {
			t.Fatalf("status = %q, want %q", n.Status(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestNotifyReadyStatusWatchdog(t *testing.T) {
	n, path := listenTest(t)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket file: %v, %v; want a socket with mode 0600", fi, err)
	}
	send(t, path, "STATUS=starting")
	waitStatus(t, n, "starting")
	if isClosed(n.Ready()) {
		t.Fatal("ready before READY=1")
	}
	send(t, path, "READY=1\nSTATUS=serving\nMAINPID=1\nnonsense")
	select {
	case <-n.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("READY=1 not seen")
	}
	waitStatus(t, n, "serving")
	send(t, path, "WATCHDOG=1")
	send(t, path, "WATCHDOG=1") // the second is dropped: one waiting ping is enough
	send(t, path, "STATUS=pinged")
	waitStatus(t, n, "pinged")
	select {
	case <-n.Pings():
	default:
		t.Fatal("WATCHDOG=1 gave no ping")
	}
	if isClosed(n.Pings()) || len(n.Pings()) != 0 {
		t.Error("more than one ping buffered")
	}
	if n.Dropped() != 0 {
		t.Errorf("Dropped = %d, want 0", n.Dropped())
	}
}

func TestNotifyDropsForeignSender(t *testing.T) {
	n, path := listenTest(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperSendEnv+"="+path, helperMsgEnv+"=READY=1\nSTATUS=foreign\nWATCHDOG=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
	send(t, path, "STATUS=mine") // queued after the helper's, which has been handled then
	waitStatus(t, n, "mine")
	if isClosed(n.Ready()) || len(n.Pings()) != 0 {
		t.Error("a foreign sender's READY=1 or WATCHDOG=1 was taken")
	}
	if n.Dropped() != 1 {
		t.Errorf("Dropped = %d, want 1", n.Dropped())
	}
}

func TestNotifyReset(t *testing.T) {
	n, path := listenTest(t)
	send(t, path, "READY=1\nWATCHDOG=1\nSTATUS=up")
	waitStatus(t, n, "up")
	old := n.Ready()
	if !isClosed(old) {
		t.Fatal("not ready")
	}
	n.Reset()
	if isClosed(n.Ready()) || n.Status() != "" || len(n.Pings()) != 0 {
		t.Fatalf("after Reset: ready %v, status %q, pings %d", isClosed(n.Ready()), n.Status(), len(n.Pings()))
	}
	send(t, path, "READY=1")
	select {
	case <-n.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("READY=1 after Reset not seen")
	}
}

func TestNotifyCloseAndStaleSocket(t *testing.T) {
	n, path := listenTest(t)
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket file after Close: %v", err)
	}

	// A socket file left by an earlier run is replaced.
	stale, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	stale.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket file missing: %v", err)
	}
	me := os.Getpid()
	n2, err := ListenNotify(path, func(pid int) bool { return pid == me })
	if err != nil {
		t.Fatalf("ListenNotify over a stale socket: %v", err)
	}
	defer n2.Close()
	send(t, path, "STATUS=again")
	waitStatus(t, n2, "again")
}

func TestListenNotifyBadInput(t *testing.T) {
	ok := func(int) bool { return true }
	for _, path := range []string{"", "@", "/tmp/" + strings.Repeat("x", 200)} {
		if _, err := ListenNotify(path, ok); !errors.Is(err, ErrInvalid) {
			t.Errorf("path %.20q: %v, want ErrInvalid", path, err)
		}
	}
	if _, err := ListenNotify(filepath.Join(t.TempDir(), "n"), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil belongs: %v, want ErrInvalid", err)
	}
	if _, err := ListenNotify(filepath.Join(t.TempDir(), "no", "dir"), ok); err == nil {
		t.Error("missing directory: no error")
	}
}
