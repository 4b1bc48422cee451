package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// streamWriteTimeout bounds one write of a stream: a client that stops
// reading is dropped rather than holding its handler, and its followers,
// forever.
const streamWriteTimeout = 30 * time.Second

// stream writes NDJSON, one value a line, for the events and logs endpoints;
// the followers of several services' logs share one.
type stream struct {
	mu     sync.Mutex // guards every field below: one writer at a time
	w      http.ResponseWriter
	rc     *http.ResponseController
	enc    *json.Encoder
	began  bool
	broken bool // a write failed: the client is gone or stuck
}

func newStream(w http.ResponseWriter) *stream {
	return &stream{w: w, rc: http.NewResponseController(w), enc: json.NewEncoder(w)}
}

// errStreamBroken ends the followers of a stream whose client is gone.
var errStreamBroken = errors.New("stream: client gone")

// send writes one value (an item, or an api.Error to end with), flushing it
// out at once when flush is true (while following); history goes out in
// large writes.
func (st *stream) send(v any, flush bool) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.broken {
		return errStreamBroken
	}
	st.beginLocked()
	// A deadline per write, not per response: a follow may idle for hours,
	// but each line must get through in bounded time.
	_ = st.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	if err := st.enc.Encode(v); err != nil {
		st.broken = true
		return fmt.Errorf("write stream: %w", err)
	}
	if flush {
		return st.flushLocked()
	}
	return nil
}

// flush sends what is buffered (and the headers, if nothing was sent yet).
func (st *stream) flush() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.beginLocked()
	_ = st.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	return st.flushLocked()
}

func (st *stream) beginLocked() {
	if !st.began {
		st.began = true
		st.w.Header().Set("Content-Type", "application/x-ndjson")
		st.w.Header().Set("Cache-Control", "no-store")
		st.w.WriteHeader(http.StatusOK)
	}
}

func (st *stream) flushLocked() error {
	if err := st.rc.Flush(); err != nil {
		st.broken = true
		return fmt.Errorf("flush stream: %w", err)
	}
	return nil
}

func (st *stream) isBroken() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.broken
}

// streamParams reads the query shared by the streaming endpoints.
func streamParams(q url.Values) (since time.Time, n int, follow bool, err error) {
	if since, err = sinceParam(q.Get("since"), time.Now()); err != nil {
		return
	}
	if n, err = countParam(q.Get("n")); err != nil {
		return
	}
	follow, err = followParam(q.Get("follow"))
	return
}

// sinceParam reads a since query parameter: empty (everything), a duration back from
// now ("10m"), or an RFC 3339 time.
func sinceParam(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("since %q: a duration must not be negative", v)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("since %q: want a duration like 10m or an RFC 3339 time like 2024-05-01T12:00:00Z", v)
	}
	return t, nil
}

// countParam reads an n parameter: empty or 0 for all, else a positive count.
func countParam(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("n %q is too large", v)
		}
		return 0, fmt.Errorf("n %q: want a count of 0 or more", v)
	}
	return n, nil
}

// followParam reads a follow parameter: empty is false; else 1/0/true/false.
func followParam(v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("follow %q: want 1 or 0", v)
	}
	return b, nil
}
