package service

import (
	"encoding/json"
	"testing"
)

func TestKindNamesRoundTrip(t *testing.T) {
	for k := range numKinds {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := ParseKind("daemon"); err == nil {
		t.Error("an unknown kind parsed")
	}
}

// TestSavedHealthReadsAsBefore: saved state crosses an upgrade, so the
// health written as a name by an older image must read back, and a state
// saved without one is unknown.
func TestSavedHealthReadsAsBefore(t *testing.T) {
	for in, want := range map[string]Health{
		`{"health":"healthy"}`:   Healthy,
		`{"health":"unhealthy"}`: Unhealthy,
		`{"health":"unknown"}`:   HealthUnknown,
		`{}`:                     HealthUnknown,
	} {
		var s Saved
		if err := json.Unmarshal([]byte(in), &s); err != nil || s.Health != want {
			t.Errorf("%s: health %v (%v), want %v", in, s.Health, err, want)
		}
	}
	var s Saved
	if err := json.Unmarshal([]byte(`{"health":"sick"}`), &s); err == nil {
		t.Error("an unknown health was accepted")
	}
	b, err := json.Marshal(Saved{Health: Healthy})
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil || back["health"] != "healthy" {
		t.Errorf("saved as %s", b)
	}
}
