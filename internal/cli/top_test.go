package cli

import (
	"strings"
	"testing"
)

// TestTopNeedsATerminal: top draws a screen, so output to a pipe or file is
// a usage error rather than a stream of escape codes.
func TestTopNeedsATerminal(t *testing.T) {
	_, stderr, code := runEventsCLI("top", "-c", "/nonexistent/respawn.yaml")
	if code != ExitUsage || !strings.Contains(stderr, "top needs a terminal") {
		t.Errorf("top to a buffer: exit %d, %q", code, stderr)
	}
	if _, _, code := runEventsCLI("top", "extra"); code != ExitUsage {
		t.Errorf("top with an argument: exit %d", code)
	}
}
