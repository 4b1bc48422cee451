package keeper

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFallbackReply(t *testing.T) {
	now := time.Now()
	end := &CoreEnd{Pid: 42, Exit: "killed by signal 9", Reason: ReasonCrashed}
	for _, c := range []struct {
		name      string
		state     fallbackState
		allowed   bool
		status    int
		retry     int
		has, lack string
	}{
		{"starting", fallbackState{keeperPid: 7, starting: true, lastEnd: end}, true, 503, 0, "core (pid 42) ended: killed by signal 9", "keep ending"},
		{"paced", fallbackState{keeperPid: 7, nextAt: now.Add(2500 * time.Millisecond)}, true, 503, 3, "next attempt in 2.5s", "keep ending"},
		{"failing", fallbackState{keeperPid: 7, nextAt: now.Add(time.Second), failing: true}, true, 503, -1, "keep ending before they are ready", ""},
		{"stranger", fallbackState{keeperPid: 7, starting: true, lastEnd: end}, false, 503, 0, "restarting; a new core is starting", "pid"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fallback{}
			f.set(c.state)
			status, body, retry := f.reply(c.allowed, now)
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if status != c.status || retry != c.retry {
				t.Errorf("status %d retry %d, want %d %d", status, retry, c.status, c.retry)
			}
			if !strings.Contains(e.Error.Message, c.has) || (c.lack != "" && strings.Contains(e.Error.Message, c.lack)) {
				t.Errorf("message %q: want %q in it, %q not", e.Error.Message, c.has, c.lack)
			}
			if e.Error.Code != CodeCoreRestarting {
				t.Errorf("code %q", e.Error.Code)
			}
		})
	}
}

// The fallback answers HTTP on the socket, and leaves a file it did not bind.
func TestFallbackAnswersAndLeavesACoresSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "respawn.sock")
	// A dead core's socket file is replaced.
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fb, err := bindFallback(path, fallbackState{})
	if err != nil {
		t.Fatal(err)
	}
	fb.set(fallbackState{keeperPid: 7, starting: true})
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket file: %v %v, want a socket of mode 0600", fi.Mode(), err)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, "http://respawn/v1/stop", strings.NewReader(`{"names":["a"]}`))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 503 || e.Error.Code != CodeCoreRestarting || resp.Header.Get("Retry-After") != "0" {
			t.Errorf("%s: %d %+v %v, Retry-After %q", method, resp.StatusCode, e, err, resp.Header.Get("Retry-After"))
		}
	}
	// A core binds its own socket there; the fallback, closed, leaves it.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	core, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer core.Close()
	fb.close(true)
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("the core's socket is gone: %v", err)
	}

	// Its own file it removes.
	path2 := filepath.Join(t.TempDir(), "respawn.sock")
	fb2, err := bindFallback(path2, fallbackState{})
	if err != nil {
		t.Fatal(err)
	}
	fb2.close(true)
	if _, err := os.Lstat(path2); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the fallback's own socket stays: %v", err)
	}
}

// A caller that sends no end of header is cut off at the bound, and a
// silent one at the deadline: the keeper holds nothing for them.
func TestFallbackBoundsCallers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "respawn.sock")
	fb, err := bindFallback(path, fallbackState{})
	if err != nil {
		t.Fatal(err)
	}
	defer fb.close(true)
	long, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer long.Close()
	go long.Write([]byte(strings.Repeat("X", 2*fallbackHeader)))
	silent, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	for name, c := range map[string]net.Conn{"endless header": long, "silent": silent} {
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(make([]byte, 16))
		if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: read %d, %v; want the keeper to close", name, n, err)
		}
		if took := time.Since(start); took > fallbackDeadline+5*time.Second {
			t.Errorf("%s: closed after %s", name, took)
		}
	}
}
