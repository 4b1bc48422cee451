package supervisor

import (
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// A status of every service measures them in one batch when the runner
// can (the keeper: one round trip), one by one otherwise, with the same
// figures either way.
func TestStatusMeasuresUsageInOneBatch(t *testing.T) {
	h := newHarness(t, "  a: {command: [sleep, '1000']}\n  b: {command: [sleep, '1000']}\n  c: {command: [sh, -c, 'exit 0'], restart: {policy: never}}\n", nil)
	h.waitState("a", "running")
	h.waitState("b", "running")
	h.waitState("c", "exited")
	// waitState's own status calls measured: forget it.
	for _, m := range h.sup.roster.Load().members {
		m.usage.Store(nil)
	}
	batches := func() int {
		h.runner.mu.Lock()
		defer h.runner.mu.Unlock()
		return h.runner.usageBatches
	}
	before := batches()
	t0 := time.Now()
	st, err := h.sup.Status(nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := batches() - before; n != 1 {
		t.Errorf("%d batches for a status of every service, want 1", n)
	}
	measured := func(st api.Status) {
		t.Helper()
		for _, row := range st.Services {
			// Measured, not necessarily above zero: a process caught at its
			// exec has no resident page yet.
			measured := row.MemoryBytes != nil && row.CPUPercent != nil
			if measured != (row.Name != "c") {
				t.Errorf("%s (%s): memory %v, cpu %v", row.Name, row.State, row.MemoryBytes, row.CPUPercent)
			}
		}
	}
	measured(st)
	// Right after, the same figures without measuring again.
	before = batches()
	again, err := h.sup.Status(nil)
	if err != nil {
		t.Fatal(err)
	}
	measured(again)
	// (Unless the machine was too slow to tell.)
	if n := batches() - before; n != 0 && time.Since(t0) < minUsageWindow {
		t.Errorf("%d batches for a status right after another, want 0 (the figures are less than %s old)", n, minUsageWindow)
	}
	for i, row := range again.Services {
		if m := row.MemoryBytes; m != nil && *m != *st.Services[i].MemoryBytes && time.Since(t0) < minUsageWindow {
			t.Errorf("%s: memory %d right after %d, want the same sample", row.Name, *m, *st.Services[i].MemoryBytes)
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

// An overview reads states without measuring anything.
func TestOverviewMeasuresNothing(t *testing.T) {
	h := newHarness(t, "  a: {command: [sleep, '1000']}\n", nil)
	h.waitState("a", "running")
	for _, m := range h.sup.roster.Load().members {
		m.usage.Store(nil)
	}
	h.runner.mu.Lock()
	before := h.runner.usageBatches
	h.runner.mu.Unlock()
	st, err := h.sup.Overview(nil)
	if err != nil {
		t.Fatal(err)
	}
	h.runner.mu.Lock()
	after := h.runner.usageBatches
	h.runner.mu.Unlock()
	if after != before {
		t.Errorf("an overview measured %d batches, want none", after-before)
	}
	if len(st.Services) != 1 || st.Services[0].State != "running" || st.Services[0].Pid == 0 {
		t.Fatalf("overview %+v, want a running with its pid", st.Services)
	}
	if row := st.Services[0]; row.CPUPercent != nil || row.MemoryBytes != nil {
		t.Errorf("overview has cpu %v memory %v, want neither", row.CPUPercent, row.MemoryBytes)
	}
	if _, err := h.sup.Overview([]string{"nope"}); err == nil {
		t.Error("an overview of an unknown service did not fail")
	}
}
