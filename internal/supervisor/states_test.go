package supervisor

import (
	"slices"
	"testing"

	"github.com/respawn-sh/respawn/internal/metrics"
	"github.com/respawn-sh/respawn/internal/service"
)

// TestMetricsStatesAreTheServiceStates keeps respawn_service_state's labels
// in step with the service states: a state added to one and not the other
// would be a series that never reads 1, or a service with none.
func TestMetricsStatesAreTheServiceStates(t *testing.T) {
	var names []string
	for _, st := range service.AllStates() {
		names = append(names, st.String())
	}
	if !slices.Equal(names, metrics.States) {
		t.Fatalf("metrics.States = %q, the service states are %q", metrics.States, names)
	}
}
