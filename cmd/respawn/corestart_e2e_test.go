//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// TestNewCoreAnswersWithItsServicesRestored asks for the status as fast as
// it can while cores restart: the first answer of a new core already shows
// every service with the pid and restart count it had, never a table not yet
// restored (pid 0, stopped).
func TestNewCoreAnswersWithItsServicesRestored(t *testing.T) {
	t.Parallel()
	m := marker(t)
	var cfg strings.Builder
	cfg.WriteString("version: 1\nservices:\n")
	const services = 50
	for i := range services {
		fmt.Fprintf(&cfg, "  s%d:\n    command: sleep 7%s%d\n", i, m, i)
	}
	s := startSup(t, cfg.String())
	for i := range services {
		s.waitFor(fmt.Sprintf("s%d", i), "running", func(v api.Service) bool { return v.State == "running" })
	}
	st := s.status()
	before := pids(st)

	// A fresh connection for every request: a kept one would still lead to
	// the dead core.
	sock := filepath.Join(s.dir, ".respawn", "respawn.sock")
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: true,
	}, Timeout: deadline}
	get := func() (api.Status, bool) {
		resp, err := hc.Get("http://respawn" + api.PathStatus)
		if err != nil {
			return api.Status{}, false
		}
		defer resp.Body.Close()
		var st api.Status
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil {
			return api.Status{}, false
		}
		return st, true
	}

	// Several callers at once, each asking again as soon as it has an
	// answer: the new core's earliest answers are the ones that count.
	const kills, callers = 10, 4
	for i := range kills {
		old := st.Supervisor.CorePid
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatalf("kill core %d: %v", old, err)
		}
		answers := make(chan api.Status, callers)
		done := make(chan struct{})
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					if got, ok := get(); ok && got.Supervisor.CorePid != old && got.Supervisor.CorePid != 0 {
						answers <- got
						return
					}
				}
			})
		}
		var got []api.Status
		select {
		case a := <-answers:
			got = append(got, a)
		case <-time.After(deadline):
		}
		close(done)
		wg.Wait()
		close(answers)
		if len(got) == 0 {
			t.Fatalf("kill %d: no new core answered within %s", i+1, deadline)
		}
		for a := range answers {
			got = append(got, a)
		}
		for _, a := range got {
			if p := pids(a); fmt.Sprint(p) != fmt.Sprint(before) {
				t.Fatalf("kill %d: the new core answered %v, want %v", i+1, p, before)
			}
		}
		st = got[0]
	}
}
