package supervisor

import (
	"testing"
)

// A status of every service measures them in one batch when the runner
// can (the keeper: one round trip), one by one otherwise, with the same
// figures either way.
func TestStatusMeasuresUsageInOneBatch(t *testing.T) {
	h := newHarness(t, "  a: {command: [sleep, '1000']}\n  b: {command: [sleep, '1000']}\n  c: {command: [sh, -c, 'exit 0'], restart: {policy: never}}\n", nil)
	h.waitState("a", "running")
	h.waitState("b", "running")
	h.waitState("c", "exited")
	h.runner.mu.Lock()
	before := h.runner.usageBatches
	h.runner.mu.Unlock()
	st, err := h.sup.Status(nil)
	if err != nil {
		t.Fatal(err)
	}
	h.runner.mu.Lock()
	batches := h.runner.usageBatches - before
	h.runner.mu.Unlock()
	if batches != 1 {
		t.Errorf("%d batches for a status of every service, want 1", batches)
	}
	for _, row := range st.Services {
		// Measured, not necessarily above zero: a process caught at its exec
		// has no resident page yet.
		measured := row.MemoryBytes != nil && row.CPUPercent != nil
		if measured != (row.Name != "c") {
			t.Errorf("%s (%s): memory %v, cpu %v", row.Name, row.State, row.MemoryBytes, row.CPUPercent)
		}
	}
	// Without a meter, each process measures itself.
	members := h.sup.roster.Load().members
	one := (&Supervisor{}).usages(members)
	for i, m := range members {
		if live := m.spec().Name != "c"; one[i].OK != live {
			t.Errorf("%s measured alone: %+v", m.spec().Name, one[i])
		}
	}
}
