package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/instance"
)

// writeLock writes pid into the state dir's lock file, as a keeper does.
func writeLock(t *testing.T, dir string, pid int) string {
	t.Helper()
	path := filepath.Join(dir, instance.LockName)
	if err := os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func serveAt(t *testing.T, sock string, h http.HandlerFunc) {
	t.Helper()
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

func okStatus(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprintln(w, `{"supervisor":{"pid":1},"services":[]}`)
}

func TestNotRunningWithoutAKeeper(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "respawn.sock")
	// A keeper that exited: its pid is gone.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for name, setup := range map[string]func(){
		"no lock":  func() {},
		"dead pid": func() { writeLock(t, dir, dead.Process.Pid) },
		"empty":    func() { writeLock(t, dir, 0) },
		"reused pid": func() {
			// This process started long after the lock was written.
			path := writeLock(t, dir, os.Getpid())
			old := time.Now().Add(-time.Hour)
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			os.Remove(filepath.Join(dir, instance.LockName))
			setup()
			start := time.Now()
			_, err := New(sock).Status(context.Background())
			if !errors.Is(err, ErrNotRunning) {
				t.Errorf("err = %v, want ErrNotRunning", err)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("took %s to say so", took)
			}
		})
	}
}

// While the keeper lives, a missing socket is a core that restarts: the
// request waits for it.
func TestWaitsForTheCoreWhileTheKeeperLives(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "respawn.sock")
	writeLock(t, dir, os.Getpid())
	go func() {
		time.Sleep(300 * time.Millisecond)
		serveAt(t, sock, okStatus)
	}()
	st, err := New(sock).Status(context.Background())
	if err != nil || st.Supervisor.Pid != 1 {
		t.Fatalf("status = %+v, %v", st, err)
	}
}

func TestGivesUpOnACoreThatDoesNotCome(t *testing.T) {
	dir := t.TempDir()
	writeLock(t, dir, os.Getpid())
	c := New(filepath.Join(dir, "respawn.sock"))
	c.wait = 300 * time.Millisecond
	_, err := c.Status(context.Background())
	if err == nil || errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("err = %v, want the core did not answer", err)
	}
}

// The keeper's answer while no core runs: try again when it says a core is
// due, give up at once when it does not.
func TestCoreRestartingAnswer(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "respawn.sock")
	writeLock(t, dir, os.Getpid())
	var calls, bodies atomic.Int32
	failing := atomic.Bool{}
	serveAt(t, sock, func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > 0 {
			bodies.Add(1)
		}
		if calls.Add(1) < 3 || failing.Load() {
			if !failing.Load() {
				w.Header().Set("Retry-After", "0")
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"error":{"code":%q,"message":"the supervisor's core is restarting"}}`, api.CodeCoreRestarting)
			return
		}
		fmt.Fprintln(w, `{"results":[]}`)
	})
	c := New(sock)
	if _, err := c.Stop(context.Background(), "a"); err != nil || calls.Load() != 3 || bodies.Load() != 3 {
		t.Fatalf("stop: %v after %d calls, %d with a body", err, calls.Load(), bodies.Load())
	}
	failing.Store(true)
	calls.Store(0)
	_, err := c.Stop(context.Background(), "a")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != api.CodeCoreRestarting || calls.Load() != 1 {
		t.Fatalf("stop while cores fail: %v after %d calls", err, calls.Load())
	}
}

// A core that dies on a request: one whose effect does not double is sent
// again to the next core, any other is reported.
func TestDroppedRequest(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "respawn.sock")
	writeLock(t, dir, os.Getpid())
	var calls atomic.Int32
	serveAt(t, sock, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			c, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				c.Close()
			}
			return
		}
		fmt.Fprintln(w, `{"results":[]}`)
	})
	c := New(sock)
	if _, err := c.Stop(context.Background(), "a"); err != nil || calls.Load() != 2 {
		t.Fatalf("stop: %v after %d calls", err, calls.Load())
	}
	calls.Store(0)
	if _, err := c.Restart(context.Background(), "a"); err == nil || !strings.Contains(err.Error(), "core ended during the request") || calls.Load() != 1 {
		t.Fatalf("restart: %v after %d calls", err, calls.Load())
	}
}
