package health

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func listenTest(t *testing.T) (*Notify, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	n, err := ListenNotify(path, onlyMe)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, path
}

// onlyMe accepts datagrams from this test process alone.
func onlyMe(_ context.Context, pid int) error {
	if pid != os.Getpid() {
		return fmt.Errorf("pid %d is not the test", pid)
	}
	return nil
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
	drops := n.Drops()
	if len(drops) != 1 || drops[0].Pid != cmd.Process.Pid || drops[0].Reason != fmt.Sprintf("pid %d is not the test", cmd.Process.Pid) {
		t.Errorf("Drops = %+v, want the helper's pid %d with the check's reason", drops, cmd.Process.Pid)
	}
	if k, last := n.RunDrops(); k != 1 || last != drops[0] {
		t.Errorf("RunDrops = %d, %+v; want 1, %+v", k, last, drops[0])
	}
	n.Reset() // a new incarnation: its own drops only, the history stays for why
	if k, _ := n.RunDrops(); k != 0 || len(n.Drops()) != 1 {
		t.Errorf("after Reset: RunDrops %d, Drops %d; want 0 and 1", k, len(n.Drops()))
	}
}

// The drops kept for `why` are bounded: a flood keeps the latest.
func TestNotifyDropsAreBounded(t *testing.T) {
	n, _ := listenTest(t)
	for i := range maxDrops + 5 {
		n.drop(i+1, "flood")
	}
	drops := n.Drops()
	if n.Dropped() != maxDrops+5 || len(drops) != maxDrops || drops[0].Pid != 6 || drops[maxDrops-1].Pid != maxDrops+5 {
		t.Errorf("Dropped %d, drops %+v: want %d counted and the latest %d kept", n.Dropped(), drops, maxDrops+5, maxDrops)
	}
}

// A socket given to another user takes that user's datagrams and stays 0600,
// unreachable to anyone else.
func TestNotifyChownLetsTheServiceUserSend(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a sender as another user")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	// t.TempDir's parent is 0700 too.
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "notify")
	n, err := ListenNotify(path, func(context.Context, int) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	// The system's python3: root's PATH may lead to one only root can run.
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("no /usr/bin/python3 to send as another user (the test binary sits in a 0700 dir)")
	}
	// sendAs returns nil when sent, errDenied on EACCES, another error else.
	errDenied := errors.New("permission denied")
	sendAs := func(uid uint32, msg string) error {
		cmd := exec.Command(python, "-c", `import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    s.sendto(sys.argv[2].encode(), sys.argv[1])
except PermissionError:
    sys.exit(13)`, path, msg)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 13 {
			return errDenied
		}
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}
	if err := sendAs(65534, "STATUS=before"); err != errDenied {
		t.Fatalf("another user sending to a 0600 root socket: %v, want permission denied", err)
	}
	if err := n.Chown(65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := sendAs(65534, "STATUS=as nobody"); err != nil {
		t.Fatalf("the socket's user cannot send: %v", err)
	}
	waitStatus(t, n, "as nobody")
	if err := sendAs(65533, "STATUS=intruder"); err != errDenied {
		t.Errorf("a third user sending: %v, want permission denied", err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Uid != 65534 {
		t.Errorf("socket after Chown: %v %v", fi.Mode(), err)
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
	n2, err := ListenNotify(path, onlyMe)
	if err != nil {
		t.Fatalf("ListenNotify over a stale socket: %v", err)
	}
	defer n2.Close()
	send(t, path, "STATUS=again")
	waitStatus(t, n2, "again")
}

func TestListenNotifyBadInput(t *testing.T) {
	ok := func(context.Context, int) error { return nil }
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
