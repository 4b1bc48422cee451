package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/logs"
)

// logs streams captured output as NDJSON of api.LogLine:
// GET /v1/logs?name=A&name=B&n=N&since=DUR|RFC3339&follow=1. The last n lines (all when
// n is 0 or absent) of the named services (all when none is named), merged by time,
// then with follow=1 every new line as it is written, until the client goes away.
func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, n, follow, err := streamParams(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
		return
	}
	files, err := s.backend.LogFiles(q["name"])
	if err != nil {
		s.backendError(w, err)
		return
	}
	files = uniqueServices(files)

	// Each file's position is fixed before its history is read, so that history and
	// follow together miss no line and repeat none.
	followers := make([]*logs.Follower, 0, len(files))
	defer func() {
		for _, fl := range followers {
			fl.Close()
		}
	}()
	history := make([][]logs.Line, len(files))
	for i, f := range files {
		fl, err := logs.OpenFollower(f.Path)
		if err != nil {
			s.logsFailed(w, f.Service, err)
			return
		}
		followers = append(followers, fl)
		if history[i], err = fl.History(since, n); err != nil {
			s.logsFailed(w, f.Service, err)
			return
		}
	}

	st := newStream(w)
	for _, l := range mergeLines(files, history, n) {
		if st.send(l, false) != nil {
			return
		}
	}
	if st.flush() != nil || !follow {
		return
	}
	// net/http clears the request's read deadline once the handler runs, so a follow
	// outlives ReadTimeout; the end of the connection still cancels r.Context().
	s.followLogs(r.Context(), st, files, followers)
}

// followLogs streams the new lines of every file until ctx ends, a write fails or the
// supervisor shuts down. One loop follows them all (a stream of every service costs no
// goroutine per service); a failed read of one file ends the stream for all.
func (s *Server) followLogs(ctx context.Context, st *stream, files []LogFile, followers []*logs.Follower) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.opts.Done != nil {
		go func() {
			select {
			case <-s.opts.Done:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	err := logs.FollowAll(ctx, followers, func(i int, l logs.Line) error {
		return st.send(logLine(files[i].Service, l), true)
	})
	if err != nil && !st.isBroken() {
		// Headers are gone already; the last line says why the stream ends early.
		s.log.Warn("log follow ended", "err", err)
		st.send(api.Error{Error: api.ErrorBody{Code: api.CodeInternal, Message: err.Error()}}, true)
	}
}

// logsFailed answers a failure to read a log file, before anything was streamed.
func (s *Server) logsFailed(w http.ResponseWriter, service string, err error) {
	s.log.Error("read logs", "service", service, "err", err)
	writeError(w, http.StatusInternalServerError, api.CodeInternal, fmt.Sprintf("logs of %s: %v", service, err))
}

// uniqueServices drops repeated services, so that name=a&name=a shows a's lines once.
func uniqueServices(files []LogFile) []LogFile {
	seen := make(map[string]bool, len(files))
	out := files[:0:0]
	for _, f := range files {
		if !seen[f.Service] {
			seen[f.Service] = true
			out = append(out, f)
		}
	}
	return out
}

// mergeLines merges the services' lines by time and keeps the last n (all when n <= 0).
// Each service's lines stay in file order, and lines of the same time come in the
// order of files (config order).
func mergeLines(files []LogFile, history [][]logs.Line, n int) []api.LogLine {
	total := 0
	for _, h := range history {
		total += len(h)
	}
	out := make([]api.LogLine, 0, total)
	next := make([]int, len(history))
	for len(out) < total {
		best := -1
		for i, h := range history {
			if next[i] < len(h) && (best < 0 || h[next[i]].Time.Before(history[best][next[best]].Time)) {
				best = i
			}
		}
		out = append(out, logLine(files[best].Service, history[best][next[best]]))
		next[best]++
	}
	if n > 0 && len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

func logLine(service string, l logs.Line) api.LogLine {
	return api.LogLine{Time: l.Time, Service: service, Stream: l.Stream.String(), Line: l.Text}
}
