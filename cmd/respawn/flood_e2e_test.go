//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// events returns the whole journal as the API serves it.
func (s *sup) events() []api.Event {
	s.t.Helper()
	out, errs, code := s.run("events", "-o", "json")
	if code != 0 {
		s.t.Fatalf("events: exit %d: %s", code, errs)
	}
	var evs []api.Event
	for line := range strings.Lines(out) {
		var e api.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			s.t.Fatalf("events: %q: %v", line, err)
		}
		evs = append(evs, e)
	}
	return evs
}

// The acceptance test of the HTTP listener's flood defence: 200,000
// unauthenticated requests (each naming a long path, so that before the
// defence each refusal was a large journal event) leave the journal's
// earlier events in place, are recorded as a handful of aggregated events,
// and do not lock out a client that knows the token.
func TestHTTPFloodLeavesTheJournalInPlace(t *testing.T) {
	t.Parallel()
	const token = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"
	tokFile := writeTokenFile(t, token, 0o600)
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	s := startSup(t, "version: 1\nsupervisor:\n  http: {listen: \""+addr+"\", token_file: "+tokFile+"}\nservices:\n  web: {command: sleep 4714}\n")
	s.waitFor("web", "running", func(svc api.Service) bool { return svc.State == "running" })
	before := s.events()
	if len(before) == 0 {
		t.Fatal("no events before the flood")
	}
	earliest := before[0]

	const total, workers, batch = 200_000, 8, 500
	// Raw keep-alive connections with the requests pipelined in batches: a
	// client as cheap as an attacker's, so that the test measures the
	// supervisor.
	guess := "GET /v1/" + strings.Repeat("x", 190) + " HTTP/1.1\r\nHost: respawn\r\nAuthorization: Bearer guess-0123456789abcdefghij\r\n\r\n"
	var unauthorized, tooMany atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			if err := flood(addr, total/workers+boolInt(w < total%workers), batch, guess, &unauthorized, &tooMany, start.Add(10*time.Minute)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("%d requests in %s (%.0f/s): %d answered 401, %d answered 429", total, took.Round(time.Millisecond), total/took.Seconds(), unauthorized.Load(), tooMany.Load())
	if tooMany.Load() < total*9/10 {
		t.Errorf("%d of %d guesses answered 429, want most: the address must be made to wait", tooMany.Load(), total)
	}

	after := s.events()
	if len(after) == 0 || after[0].Time != earliest.Time || after[0].Type != earliest.Type || after[0].Message != earliest.Message {
		t.Fatalf("the earliest event before the flood, %+v, is gone; the journal now starts with %+v (%d events)", earliest, after[0], len(after))
	}
	var refused []api.Event
	for _, e := range after {
		if e.Type == api.EventRefused {
			refused = append(refused, e)
		}
	}
	// One event at once; one a minute after that, and the flood may have
	// lasted some minutes on a loaded machine.
	if max := 2 + int(took/time.Minute); len(refused) == 0 || len(refused) > max {
		t.Fatalf("%d refused events for the flood, want 1 to %d: %+v", len(refused), max, refused)
	}
	if !strings.Contains(refused[0].Message, "from 127.0.0.1:") {
		t.Errorf("the first refusal %q does not name the client", refused[0].Message)
	}

	// Another address with the token is not slowed down by the flood
	// (the flooding address's own wait is tested in internal/server).
	other := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	c := &http.Client{Timeout: deadline, Transport: &http.Transport{DialContext: other.DialContext}}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+api.PathStatus, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the token from 127.0.0.2 after the flood: %d", resp.StatusCode)
	}

	// What was counted and not yet recorded is recorded when the
	// supervisor stops; the journal outlives it.
	if _, errs, code := s.run("down"); code != 0 {
		t.Fatalf("down: exit %d: %s", code, errs)
	}
	s.waitExit()
	s = &sup{t: t, dir: s.dir, config: s.config, stderr: &syncBuffer{}, exited: make(chan struct{})}
	s.start()
	var counted int
	more := regexp.MustCompile(`^refused (\d+) more HTTP requests? from 127\.0\.0\.1 in `)
	for _, e := range s.events() {
		if m := more.FindStringSubmatch(e.Message); e.Type == api.EventRefused && m != nil {
			n, _ := strconv.Atoi(m[1])
			counted += n
		}
	}
	if counted != total-1 {
		t.Errorf("aggregated events count %d refusals after the first, want %d", counted, total-1)
	}
}

// flood sends n requests (req, a whole request head) to addr over one
// keep-alive connection, pipelined batch at a time while the answers are
// read, and counts the answers 401 and 429; any other answer, or still
// running at limit, is an error.
func flood(addr string, n, batch int, req string, unauthorized, tooMany *atomic.Int64, limit time.Time) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(limit); err != nil {
		return err
	}
	// Written from its own goroutine: a writer that waited for its answers
	// could fill both directions' buffers and stall with the server.
	wrote := make(chan error, 1)
	go func() {
		buf := []byte(strings.Repeat(req, batch))
		for left := n; left > 0; left -= batch {
			if _, err := c.Write(buf[:min(batch, left)*len(req)]); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	br := bufio.NewReader(c)
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			c.Close()
			return fmt.Errorf("flood: %w (writing: %v)", err, <-wrote)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			unauthorized.Add(1)
		case http.StatusTooManyRequests:
			tooMany.Add(1)
		default:
			c.Close()
			<-wrote
			return fmt.Errorf("a guess got %d", resp.StatusCode)
		}
	}
	return <-wrote
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
