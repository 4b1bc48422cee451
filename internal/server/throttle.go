package server

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// The HTTP listener's guessing brake. A client address may fail
// authentication freeFailures times in a row; after that each failure makes
// it wait, firstWait after the first, twice as long after each next one, at
// most maxWait. Requests that come during the wait are answered 429 without
// looking at their token, so a guess made then tells nothing. An address
// that passes, or fails no more for forgetAfter, starts afresh.
const (
	freeFailures = 5
	firstWait    = time.Second
	maxWait      = 5 * time.Minute
	forgetAfter  = 15 * time.Minute // longer than maxWait: an address at the cap is never forgiven between guesses
	// maxClients bounds the addresses remembered at once. When it is
	// reached the one that failed longest ago is forgotten, so an attacker
	// with many addresses costs memory in proportion to this, not to them.
	maxClients = 4096
)

// clientKey is the address requests are counted by: the IPv4 address, or
// the /64 network of an IPv6 one (a single host is commonly given a whole
// /64, and could otherwise start afresh from each of its addresses).
// remoteAddr is an http.Request's RemoteAddr, "IP:port".
func clientKey(remoteAddr string) string {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	a := ap.Addr().Unmap()
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
}

// throttle remembers failed authentications by client key.
type throttle struct {
	mu      sync.Mutex               // guards clients and recent
	clients map[string]*list.Element // of *strikes, by client key
	recent  list.List                // of *strikes; front: the latest failure
}

// strikes is one client's run of failures.
type strikes struct {
	key      string
	failures int
	last     time.Time // the latest failure
	until    time.Time // the end of the wait the latest failure imposed
}

func newThrottle() *throttle {
	return &throttle{clients: map[string]*list.Element{}}
}

// wait returns how long the client must still wait before a request of its
// is looked at; 0 when it need not, and then failures says how many it has
// had in a row (for messages).
func (t *throttle) wait(key string) (wait time.Duration, failures int) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.clients[key]
	if !ok {
		return 0, 0
	}
	s := e.Value.(*strikes)
	if now.Sub(s.last) >= forgetAfter {
		t.removeLocked(e)
		return 0, 0
	}
	return max(s.until.Sub(now), 0), s.failures
}

// fail records a failed authentication and returns the wait it imposes and
// how many failures in a row the client has had.
func (t *throttle) fail(key string) (wait time.Duration, failures int) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forgetStaleLocked(now)
	var s *strikes
	if e, ok := t.clients[key]; ok {
		s = e.Value.(*strikes)
		t.recent.MoveToFront(e)
	} else {
		if len(t.clients) >= maxClients {
			t.removeLocked(t.recent.Back())
		}
		s = &strikes{key: key}
		t.clients[key] = t.recent.PushFront(s)
	}
	s.failures++
	s.last = now
	d := waitAfter(s.failures)
	s.until = now.Add(d)
	return d, s.failures
}

// pass forgets the client's failures: it has shown it knows the token.
func (t *throttle) pass(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.clients[key]; ok {
		t.removeLocked(e)
	}
}

// size returns how many clients are remembered.
func (t *throttle) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.clients)
}

// forgetStaleLocked drops clients whose latest failure is forgetAfter old,
// from the back of the list, where the oldest are.
func (t *throttle) forgetStaleLocked(now time.Time) {
	for e := t.recent.Back(); e != nil && now.Sub(e.Value.(*strikes).last) >= forgetAfter; e = t.recent.Back() {
		t.removeLocked(e)
	}
}

func (t *throttle) removeLocked(e *list.Element) {
	delete(t.clients, e.Value.(*strikes).key)
	t.recent.Remove(e)
}

// waitAfter is the wait imposed by the n-th failure in a row.
func waitAfter(n int) time.Duration {
	if n <= freeFailures {
		return 0
	}
	d := firstWait
	for i := freeFailures + 1; i < n && d < maxWait; i++ {
		d *= 2
	}
	return min(d, maxWait)
}
