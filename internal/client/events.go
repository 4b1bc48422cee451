package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"syscall"

	"github.com/respawn-sh/respawn/internal/api"
)

// maxEventLine bounds one line of the events stream; the journal never stores longer.
const maxEventLine = 4 << 20

// eventLine is one line of the events stream: an event, or, as the last line
// of a stream the supervisor had to cut short, an error.
type eventLine struct {
	api.Event
	Error *api.ErrorBody `json:"error"`
}

// Events reads the event journal: the events since since (a duration back from
// now such as "10m", or an RFC 3339 time; empty for all), only the last n when
// n > 0, then, when follow is true, new events as they happen until ctx ends.
// emit is called for each event in order; its error ends the read and is returned.
// The stream is decoded line by line, never buffered whole.
func (c *Client) Events(ctx context.Context, since string, n int, follow bool, emit func(api.Event) error) error {
	q := url.Values{}
	if since != "" {
		q.Set("since", since)
	}
	if n > 0 {
		q.Set("n", strconv.Itoa(n))
	}
	if follow {
		q.Set("follow", "1")
	}
	path := api.PathEvents
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://respawn"+path, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("%w (no socket at %s)", ErrNotRunning, c.socket)
		}
		return fmt.Errorf("control socket %s: %w", c.socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var e api.Error
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return &APIError{Status: resp.StatusCode, Code: e.Error.Code, Msg: e.Error.Message}
		}
		return &APIError{Status: resp.StatusCode, Code: api.CodeInternal, Msg: fmt.Sprintf("HTTP %d from %s", resp.StatusCode, api.PathEvents)}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var l eventLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("decode event: %w", err)
		}
		if l.Error != nil {
			return &APIError{Status: http.StatusInternalServerError, Code: l.Error.Code, Msg: "events stream cut short: " + l.Error.Message}
		}
		if err := emit(l.Event); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("read events: %w", err)
	}
	return nil
}
