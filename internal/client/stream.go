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

	"github.com/respawn-sh/respawn/internal/api"
)

// streamQuery builds the query shared by the streaming endpoints.
func streamQuery(since string, n int, follow bool) url.Values {
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
	return q
}

// send performs a request and maps a non-2xx answer to *APIError. While the
// supervisor's keeper lives but no core answers (one is restarting), it tries
// again for up to the client's core wait; ErrNotRunning means no supervisor
// runs. The caller closes the body.
func (c *Client) send(ctx context.Context, req *http.Request) (*http.Response, error) {
	w := &waiter{c: c, req: req}
	for {
		resp, err := c.http.Do(req)
		retry := -1
		if err == nil {
			if resp.StatusCode/100 == 2 {
				return resp, nil
			}
			retry = retryAfter(resp)
			err = apiError(resp, req)
		}
		again, err := w.again(ctx, err, retry)
		if !again {
			return nil, err
		}
		if req, err = rewind(ctx, req); err != nil {
			return nil, err
		}
	}
}

// apiError reads a non-2xx answer and closes its body.
func apiError(resp *http.Response, req *http.Request) error {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var e api.Error
	if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
		return &APIError{Status: resp.StatusCode, Code: e.Error.Code, Msg: e.Error.Message}
	}
	return &APIError{Status: resp.StatusCode, Code: api.CodeInternal, Msg: fmt.Sprintf("HTTP %d from %s", resp.StatusCode, req.URL.Path)}
}

// rewind returns req ready to be sent again, with its body from the start.
func rewind(ctx context.Context, req *http.Request) (*http.Request, error) {
	r := req.Clone(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, errors.New("request body cannot be sent again")
		}
		b, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("request body: %w", err)
		}
		r.Body = b
	}
	return r, nil
}

// streamLine is one line of an NDJSON stream: a value, or, as the last line
// of a stream the supervisor had to cut short, an error.
type streamLine[T any] struct {
	Value T
	Error *api.ErrorBody
}

func (l *streamLine[T]) UnmarshalJSON(b []byte) error {
	var probe struct {
		Error *api.ErrorBody `json:"error"`
	}
	if err := json.Unmarshal(b, &probe); err == nil && probe.Error != nil && probe.Error.Code != "" {
		l.Error = probe.Error
		return nil
	}
	return json.Unmarshal(b, &l.Value)
}

// stream GETs path and decodes its NDJSON answer line by line, never buffering
// it whole, calling emit for each value until the stream ends, emit fails or
// ctx ends (then ctx.Err() is returned).
func stream[T any](ctx context.Context, c *Client, path string, q url.Values, maxLine int, what string, emit func(T) error) error {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://respawn"+path, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	resp, err := c.send(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var l streamLine[T]
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("decode %s: %w", what, err)
		}
		if l.Error != nil {
			return &APIError{Status: http.StatusInternalServerError, Code: l.Error.Code, Msg: what + " stream cut short: " + l.Error.Message}
		}
		if err := emit(l.Value); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	return nil
}
