package server

import (
	"net/http"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

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

	st := newStream(w)
	if follow {
		// A follow outlives any request read timeout; the end of the
		// connection still cancels r.Context().
		_ = st.rc.SetReadDeadline(time.Time{})
	}
	err = s.opts.Events.Follow(r.Context(), since, n, follow, func(e api.Event) error { return st.send(e, true) })
	switch {
	case err == nil, r.Context().Err() != nil, st.isBroken():
		// Done, or the client went away: nobody to tell.
	default:
		// Headers are gone already; the last line says why the stream ends early.
		s.log.Warn("events stream ended", "err", err)
		st.send(api.Error{Error: api.ErrorBody{Code: api.CodeInternal, Message: err.Error()}}, true)
	}
}
