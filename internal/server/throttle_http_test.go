package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// fromAddr returns a client whose connections come from the loopback
// address ip (any of 127.0.0.0/8 on Linux).
func fromAddr(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

func TestHTTPListenerThrottlesAFailingAddress(t *testing.T) {
	if c, err := net.Dial("tcp", "127.0.0.2:9"); err != nil && strings.Contains(err.Error(), "assign requested address") {
		t.Skip("127.0.0.2 is not a loopback address here")
	} else if c != nil {
		c.Close()
	}
	rec := &recorder{}
	s := wired(t, &fuzzBackend{}, rec.record)
	l, err := s.ListenHTTP("127.0.0.1:0", testToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	attacker, other := fromAddr("127.0.0.1"), fromAddr("127.0.0.2")
	refusedFromAttacker := 0 // requests from the attacker's address, less the ones that passed
	get := func(c *http.Client, host, auth string) (*http.Response, api.Error) {
		t.Helper()
		defer func() {
			if c == attacker {
				refusedFromAttacker++
			}
		}()
		req, _ := http.NewRequest(http.MethodGet, "http://"+host+":"+port+api.PathStatus, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var e api.Error
		_ = json.Unmarshal(body, &e)
		return resp, e
	}

	for i := 1; i <= freeFailures; i++ {
		if resp, e := get(attacker, "127.0.0.1", "Bearer guess"); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Retry-After") != "" {
			t.Fatalf("guess %d: %d %+v (Retry-After %q), want a plain 401", i, resp.StatusCode, e, resp.Header.Get("Retry-After"))
		}
	}
	// The wait starts during this guess: a slow machine may be past it by
	// the next request, so time is counted from before this one.
	start := time.Now()
	resp, e := get(attacker, "127.0.0.1", "Bearer guess")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Retry-After") != "1" || !strings.Contains(e.Error.Message, "must wait 1s") {
		t.Fatalf("guess %d: %d %+v (Retry-After %q), want 401 imposing a wait of 1s", freeFailures+1, resp.StatusCode, e, resp.Header.Get("Retry-After"))
	}
	// During the wait even the right token is not looked at.
	resp, e = get(attacker, "127.0.0.1", "Bearer "+testToken)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests && e.Error.Code == api.CodeTooManyRequests && resp.Header.Get("Retry-After") == "1":
	case resp.StatusCode == http.StatusOK && time.Since(start) >= firstWait:
		refusedFromAttacker-- // a slow machine: the wait was over
	default:
		t.Fatalf("during the wait: %d %+v (Retry-After %q), want 429 too_many_requests", resp.StatusCode, e, resp.Header.Get("Retry-After"))
	}
	// Another address is not slowed down.
	if resp, e := get(other, "127.0.0.1", "Bearer "+testToken); resp.StatusCode != http.StatusOK {
		t.Fatalf("the right token from 127.0.0.2: %d %+v", resp.StatusCode, e)
	}
	// After the wait the right token works from the attacker's address too.
	end := time.Now().Add(20 * time.Second)
	for {
		resp, e := get(attacker, "127.0.0.1", "Bearer "+testToken)
		if resp.StatusCode == http.StatusOK {
			refusedFromAttacker--
			break
		}
		if resp.StatusCode != http.StatusTooManyRequests || time.Now().After(end) {
			t.Fatalf("after the wait: %d %+v", resp.StatusCode, e)
		}
		d, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		time.Sleep(time.Duration(d) * time.Second)
	}
	// ... and its slate is clean: the next guesses are free again.
	for i := 1; i <= freeFailures; i++ {
		if resp, _ := get(attacker, "127.0.0.1", "Bearer guess"); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Retry-After") != "" {
			t.Fatalf("guess %d after a success: %d (Retry-After %q)", i, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	// The first refusal is recorded at once, with what it asked for; the
	// rest are counted, and recorded once a minute or at Close.
	refused := rec.ofType(api.EventRefused)
	if len(refused) == 0 || !strings.Contains(refused[0].Message, "from 127.0.0.1:") || !strings.Contains(refused[0].Message, "with a wrong bearer token: GET /v1/status") {
		t.Fatalf("refused events %+v, want the first refusal first", refused)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.Close(ctx)
	more := regexp.MustCompile(`^refused (\d+) more HTTP requests? from 127\.0\.0\.1 in `)
	counted := 0
	for _, e := range rec.ofType(api.EventRefused)[1:] {
		m := more.FindStringSubmatch(e.Message)
		if m == nil {
			t.Fatalf("unexpected refused event %q", e.Message)
		}
		n, _ := strconv.Atoi(m[1])
		counted += n
	}
	if counted != refusedFromAttacker-1 {
		t.Fatalf("the events count %d refusals after the first, want %d", counted, refusedFromAttacker-1)
	}
}

func TestListenHTTPRefusesAWeakToken(t *testing.T) {
	s := wired(t, &fuzzBackend{}, nil)
	for _, tok := range []string{"", "x", "0123456789abcdef0123456789abcde"} {
		if l, err := s.ListenHTTP("127.0.0.1:0", tok, nil); err == nil {
			l.Close()
			t.Errorf("ListenHTTP accepted the token %q", tok)
		}
	}
}
