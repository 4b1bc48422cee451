package supervisor

import (
	"slices"
	"testing"

	"github.com/respawn-sh/respawn/internal/config"
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

// TestEveryConfigKindIsAServiceKind: serviceConfig maps kinds by name.
func TestEveryConfigKindIsAServiceKind(t *testing.T) {
	for _, k := range []config.Kind{config.KindProcess, config.KindOneshot, config.KindForking, config.KindExternal} {
		if sk, err := service.ParseKind(string(k)); err != nil || sk.String() != string(k) {
			t.Errorf("config kind %q: service kind %v, %v", k, sk, err)
		}
	}
}
