package alerts

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
)

// The table of TestStep picks cases; this one tries every sequence of five
// events of one service, 10 s apart, against every rule a service's
// triggers make (each subset of failed, crash_loop, unhealthy, recovered),
// and compares Step with a model written apart from it: where Step keeps
// state as it goes, the model reads the whole history at each step.

type sym int

const (
	symCrash sym = iota // a restart decision
	symUp               // → running
	symDown             // → stopping (a person's stop)
	symFailed
	symUnhealthy
	symTick // only time passes
	nSyms
)

func (s sym) event() *api.Event {
	switch s {
	case symCrash:
		return crash("s")
	case symUp:
		return up("s")
	case symDown:
		return &api.Event{Type: api.EventState, Service: "s", From: "running", To: "stopping", Reason: "stop"}
	case symFailed:
		return failed("s")
	case symUnhealthy:
		return unhealthy("s")
	}
	return nil
}

const (
	modelGap    = 10 * time.Second
	modelWindow = 35 * time.Second // two crashes 30 s apart are a loop, 40 s apart are not
	modelStable = 10 * time.Second // up, then a step: recovered; so a loop can open, recover and crash again within a window
)

// model is what a rule should send, read off the history.
type model struct {
	r       *config.AlertRule
	hist    []sym
	closeAt int // index after which the current episode's events start
	alerted []config.AlertTrigger
	open    bool
	sent    bool // a failure of the episode was sent
}

func (m *model) has(t config.AlertTrigger) bool { return slices.Contains(m.r.On, t) }

func (m *model) recoveryOnly() bool {
	return !m.has(config.TriggerFailed) && !m.has(config.TriggerCrashLoop) && !m.has(config.TriggerUnhealthy)
}

func (m *model) watches(t config.AlertTrigger) bool {
	return m.has(t) || (m.has(config.TriggerRecovered) && m.recoveryOnly())
}

// fail is a failure of trigger t at this step.
func (m *model) fail(t config.AlertTrigger) []string {
	if !m.watches(t) {
		return nil
	}
	m.open = true
	if !m.has(t) || slices.Contains(m.alerted, t) {
		return nil
	}
	m.alerted = append(m.alerted, t)
	m.sent = true
	return []string{string(t) + " s"}
}

// step adds s at index i and returns the alerts expected, in Step's order.
func (m *model) step(s sym) []string {
	m.hist = append(m.hist, s)
	i := len(m.hist) - 1
	var out []string
	switch s {
	case symFailed:
		out = m.fail(config.TriggerFailed)
	case symUnhealthy:
		out = m.fail(config.TriggerUnhealthy)
	case symCrash:
		// Crashes within the window, counting none before the last recovery.
		n := 0
		for j := i; j > m.closeAt-1 && j >= 0; j-- {
			if time.Duration(i-j)*modelGap > modelWindow {
				break
			}
			if m.hist[j] == symCrash {
				n++
			}
		}
		if n >= m.r.CrashLoop.Restarts {
			out = m.fail(config.TriggerCrashLoop)
		}
	}
	if !m.open {
		return out
	}
	// The run it is in: from the first up after the last thing that ended one.
	start := -1
	for j := i; j >= 0; j-- {
		switch m.hist[j] {
		case symUp:
			start = j
			continue
		case symTick:
			continue
		}
		break
	}
	if start >= 0 && time.Duration(i-start)*modelGap >= modelStable {
		if m.has(config.TriggerRecovered) && (m.sent || m.recoveryOnly()) {
			out = append(out, "recovered s")
		}
		m.open, m.sent, m.alerted, m.closeAt = false, false, nil, i+1
	}
	return out
}

func TestStepAgainstModel(t *testing.T) {
	triggers := []config.AlertTrigger{config.TriggerFailed, config.TriggerCrashLoop, config.TriggerUnhealthy, config.TriggerRecovered}
	const length = 5
	runs := 0
	for mask := range 1 << len(triggers) {
		var on []config.AlertTrigger
		for b, tr := range triggers {
			if mask&(1<<b) != 0 {
				on = append(on, tr)
			}
		}
		r := rule("r", on...)
		r.CrashLoop = config.CrashLoop{Restarts: 2, Window: modelWindow}
		r.Stable = modelStable
		r.RateLimit = config.Limit{Burst: 1000, Window: time.Hour} // its own cases are in TestStep
		seq := make([]sym, length)
		total := 1
		for range length {
			total *= int(nSyms)
		}
		for code := range total {
			c := code
			for k := range seq {
				seq[k] = sym(c % int(nSyms))
				c /= int(nSyms)
			}
			runs++
			st := NewState([]*config.AlertRule{r})
			m := &model{r: r}
			t0 := time.Unix(1_700_000_000, 0)
			for k, s := range seq {
				got, _ := st.Step(t0.Add(time.Duration(k)*modelGap), s.event())
				want := m.step(s)
				if g := describe(got, false); !slices.Equal(g, want) {
					t.Fatalf("on %v, events %v: step %d sent %q, want %q", on, names(seq[:k+1]), k, g, want)
				}
			}
		}
	}
	if runs != 16*7776 {
		t.Errorf("%d runs", runs)
	}
}

func names(seq []sym) string {
	n := []string{"crash", "up", "down", "failed", "unhealthy", "tick"}
	out := ""
	for _, s := range seq {
		out += n[s] + " "
	}
	return fmt.Sprint(out)
}
