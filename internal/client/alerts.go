package client

import (
	"context"
	"net/http"

	"github.com/respawn-sh/respawn/internal/api"
)

// TestAlerts sends a test alert through the destinations of rule (every
// rule when empty) and returns each attempt's outcome.
func (c *Client) TestAlerts(ctx context.Context, rule string) ([]api.AlertAttempt, error) {
	var a api.AlertAttempts
	err := c.do(ctx, http.MethodPost, api.PathAlertsTest, api.AlertsTest{Rule: rule}, &a)
	return a.Attempts, err
}
