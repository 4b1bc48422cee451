package client

import (
	"context"

	"github.com/respawn-sh/respawn/internal/api"
)

// maxEventLine bounds one line of the events stream; the journal never stores longer.
const maxEventLine = 4 << 20

// Events reads the event journal: the events since since (a duration back from
// now such as "10m", or an RFC 3339 time; empty for all), only the last n when
// n > 0, then, when follow is true, new events as they happen until ctx ends.
// emit is called for each event in order; its error ends the read and is returned.
// The stream is decoded line by line, never buffered whole.
func (c *Client) Events(ctx context.Context, since string, n int, follow bool, emit func(api.Event) error) error {
	return stream(ctx, c, api.PathEvents, streamQuery(since, n, follow), maxEventLine, "events", emit)
}
