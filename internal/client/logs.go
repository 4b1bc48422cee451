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

// maxLogLine bounds one line of the logs stream: a captured line is at most 64 KiB of
// text, which JSON escaping can grow several times over.
const maxLogLine = 1 << 20

// logStreamLine is one line of the logs stream: a log line, or, as the last line of a
// stream the supervisor had to cut short, an error.
type logStreamLine struct {
	api.LogLine
	Error *api.ErrorBody `json:"error"`
}

// Logs reads the captured output of the named services (all when names is empty): the
// last n lines (all when n <= 0) since since (a duration back from now such as "10m",
// or an RFC 3339 time; empty for no limit), merged in time order, then, when follow is
// true, new lines as they are written until ctx ends (then it returns ctx.Err()). emit
// is called for each line in order; its error ends the read and is returned. The stream
// is decoded line by line, never buffered whole.
func (c *Client) Logs(ctx context.Context, names []string, n int, since string, follow bool, emit func(api.LogLine) error) error {
	q := url.Values{}
	for _, name := range names {
		q.Add("name", name)
	}
	if n > 0 {
		q.Set("n", strconv.Itoa(n))
	}
	if since != "" {
		q.Set("since", since)
	}
	if follow {
		q.Set("follow", "1")
	}
	path := api.PathLogs
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
		if ctx.Err() != nil {
			return ctx.Err()
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
		return &APIError{Status: resp.StatusCode, Code: api.CodeInternal, Msg: fmt.Sprintf("HTTP %d from %s", resp.StatusCode, api.PathLogs)}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxLogLine)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var l logStreamLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("decode log line: %w", err)
		}
		if l.Error != nil {
			return &APIError{Status: http.StatusInternalServerError, Code: l.Error.Code, Msg: "logs stream cut short: " + l.Error.Message}
		}
		if err := emit(l.LogLine); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("read logs: %w", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}
