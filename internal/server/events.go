package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// eventWriteTimeout bounds one write of a stream: a client that stops reading
// is dropped rather than holding its handler forever.
const eventWriteTimeout = 30 * time.Second

// events streams the journal as NDJSON: GET /v1/events?since=DUR|RFC3339&n=N&follow=1.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if s.opts.Events == nil {
		writeError(w, http.StatusServiceUnavailable, api.CodeInternal, "the event journal is not available")
		return
	}
	q := r.URL.Query()
	since, n, follow, err := streamParams(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
		return
	}

	st := newEventStream(w)
	if follow {
		// A follow outlives any request read timeout; the end of the
		// connection still cancels r.Context().
		_ = st.rc.SetReadDeadline(time.Time{})
	}
	err = s.opts.Events.Follow(r.Context(), since, n, follow, func(e api.Event) error { return st.send(e) })
	switch {
	case err == nil, r.Context().Err() != nil, st.broken:
		// Done, or the client went away: nobody to tell.
	default:
		// Headers are gone already; the last line says why the stream ends early.
		s.log.Warn("events stream ended", "err", err)
		st.send(api.Error{Error: api.ErrorBody{Code: api.CodeInternal, Message: err.Error()}})
	}
}

// eventStream writes NDJSON, one flushed line per value.
type eventStream struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	enc    *json.Encoder
	began  bool
	broken bool // a write failed: the client is gone or stuck
}

func newEventStream(w http.ResponseWriter) *eventStream {
	return &eventStream{w: w, rc: http.NewResponseController(w), enc: json.NewEncoder(w)}
}

func (st *eventStream) send(v any) error {
	if !st.began {
		st.began = true
		st.w.Header().Set("Content-Type", "application/x-ndjson")
		st.w.Header().Set("Cache-Control", "no-store")
		st.w.WriteHeader(http.StatusOK)
	}
	// A deadline per write, not per response: a follow may idle for hours
	// between events, but each event must get through in bounded time.
	_ = st.rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
	if err := st.enc.Encode(v); err != nil {
		st.broken = true
		return fmt.Errorf("write event: %w", err)
	}
	if err := st.rc.Flush(); err != nil {
		st.broken = true
		return fmt.Errorf("flush event: %w", err)
	}
	return nil
}

// sinceParam reads a since query parameter: empty (everything), a duration back from
// now ("10m"), or an RFC 3339 time.
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
