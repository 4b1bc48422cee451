package client

import (
	"context"

	"github.com/respawn-sh/respawn/internal/api"
)

// maxLogLine bounds one line of the logs stream: a captured line is at most 64 KiB of
// text, which JSON escaping can grow several times over.
const maxLogLine = 1 << 20

// Logs reads the captured output of the named services (all when names is empty): the
// last n lines (all when n <= 0) since since (a duration back from now such as "10m",
// or an RFC 3339 time; empty for no limit), merged in time order, then, when follow is
// true, new lines as they are written until ctx ends (then it returns ctx.Err()). emit
// is called for each line in order; its error ends the read and is returned. The stream
// is decoded line by line, never buffered whole.
func (c *Client) Logs(ctx context.Context, names []string, n int, since string, follow bool, emit func(api.LogLine) error) error {
	q := streamQuery(since, n, follow)
	for _, name := range names {
		q.Add("name", name)
	}
	return stream(ctx, c, api.PathLogs, q, maxLogLine, "logs", emit)
}
