// Package alerts turns journal events into alerts (a service failed, crash-looped, recovered, went unhealthy; the core crashed or hung; an upgrade rolled back) and sends them to exec, webhook and email destinations off the supervision path.
package alerts

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
)

// Decision is one alert the rules call for.
type Decision struct {
	Rule  *config.AlertRule
	Alert api.Alert
	// Limited: the rule's rate limit holds it back; it is recorded, not sent.
	Limited bool
}

// State is what the decisions remember between events: per service its
// recent restarts and since when it runs, per rule and service its failure
// episode and the alerts it sent lately. Step is its only writer; it does
// no I/O and reads no clock, so it is tested as a table.
type State struct {
	rules []*config.AlertRule
	svc   map[string]*svcState
	rs    map[ruleKey]*ruleState
	// keep is how many restarts per service the most demanding crash-loop
	// rule needs to see: the restart list is bounded by it.
	keep int
}

type svcState struct {
	restarts []time.Time // newest last; at most State.keep
	upSince  time.Time   // zero when not running
}

type ruleKey struct{ rule, service string }

// ruleState is one rule's view of one service (service "" for the
// supervisor's own triggers).
type ruleState struct {
	// open: a failure this rule watches happened and the service has not
	// run Stable since; fired holds the failure triggers alerted (or held
	// back) in this episode, so each fires once per episode; notified says
	// one of them was sent, which its recovery then answers.
	open     bool
	fired    []config.AlertTrigger
	notified bool
	// loopFrom: restarts before it (the last recovery) do not count
	// towards a new crash loop.
	loopFrom time.Time
	sent     []time.Time // for the rate limit; at most RateLimit.Burst
}

// NewState returns the empty state for rules.
func NewState(rules []*config.AlertRule) *State {
	s := &State{rules: rules, svc: map[string]*svcState{}, rs: map[ruleKey]*ruleState{}}
	for _, r := range rules {
		if watches(r, config.TriggerCrashLoop) {
			s.keep = max(s.keep, r.CrashLoop.Restarts)
		}
	}
	return s
}

// withRules returns the state for a reloaded config's rules: what it knows
// of the services stays, and so does each rule's episode and rate limit
// for a rule that kept its name.
func (s *State) withRules(rules []*config.AlertRule) *State {
	out := NewState(rules)
	out.svc = s.svc
	for _, sv := range out.svc {
		if len(sv.restarts) > out.keep {
			sv.restarts = slices.Delete(sv.restarts, 0, len(sv.restarts)-out.keep)
		}
	}
	for k, rs := range s.rs {
		if slices.ContainsFunc(rules, func(r *config.AlertRule) bool { return r.Name == k.rule }) {
			out.rs[k] = rs
		}
	}
	return out
}

// failureTriggers are those a recovery answers.
var failureTriggers = []config.AlertTrigger{config.TriggerFailed, config.TriggerCrashLoop, config.TriggerUnhealthy}

// watches reports whether rule r looks out for failure t: it sends alerts
// for t, or it sends recoveries only, which follow any failure.
func watches(r *config.AlertRule, t config.AlertTrigger) bool {
	if r.Has(t) {
		return true
	}
	return r.Has(config.TriggerRecovered) && recoveryOnly(r)
}

func recoveryOnly(r *config.AlertRule) bool {
	return !slices.ContainsFunc(failureTriggers, r.Has)
}

// kind is what an event means to the rules.
type kind int

const (
	kNone kind = iota
	kFailed
	kUnhealthy
	kRestart
	kUp
	kDown
	kCoreCrash
	kCoreHung
	kRolledBack
)

// classify reads what the journal records: a state change (to failed, to
// running, or away from running for a failed health check), a restart
// decision, or a supervisor event about the core or an upgrade.
func classify(e *api.Event) kind {
	switch e.Type {
	case api.EventState:
		switch {
		case e.To == "failed":
			return kFailed
		case strings.HasPrefix(e.Reason, "unhealthy"):
			return kUnhealthy
		case e.To == "running":
			return kUp
		}
		return kDown
	case api.EventRespawn:
		return kRestart
	case api.EventSupervisor:
		switch {
		case strings.HasPrefix(e.Reason, "core crashed"):
			return kCoreCrash
		case strings.HasPrefix(e.Reason, "core hung"):
			return kCoreHung
		case strings.HasPrefix(e.Reason, "upgrade rolled back"):
			return kRolledBack
		}
	}
	return kNone
}

// Step applies one event (or, with e nil, the passing of time) at now and
// returns the alerts to send or record, and when Step must next run if no
// event comes first (zero: no need).
func (s *State) Step(now time.Time, e *api.Event) ([]Decision, time.Time) {
	var out []Decision
	if e != nil {
		out = s.event(now, e)
	}
	out = append(out, s.recoveries(now)...)
	return out, s.wake()
}

func (s *State) event(now time.Time, e *api.Event) []Decision {
	k := classify(e)
	switch k {
	case kNone:
		return nil
	case kCoreCrash, kCoreHung, kRolledBack:
		return s.supervisor(now, e, k)
	}
	if e.Service == "" {
		return nil
	}
	sv := s.svc[e.Service]
	if sv == nil {
		sv = &svcState{}
		s.svc[e.Service] = sv
	}
	var out []Decision
	switch k {
	case kUp:
		if sv.upSince.IsZero() {
			sv.upSince = now
		}
	case kDown:
		sv.upSince = time.Time{}
	case kFailed:
		sv.upSince = time.Time{}
		out = s.failure(now, e, config.TriggerFailed, fmt.Sprintf("%s entered failed: %s", e.Service, e.Reason), 0)
	case kUnhealthy:
		sv.upSince = time.Time{}
		out = s.failure(now, e, config.TriggerUnhealthy, fmt.Sprintf("%s is unhealthy and is restarted: %s", e.Service, strings.TrimPrefix(strings.TrimPrefix(e.Reason, "unhealthy"), ": ")), 0)
	case kRestart:
		sv.upSince = time.Time{}
		if s.keep == 0 {
			break
		}
		sv.restarts = append(sv.restarts, now)
		if len(sv.restarts) > s.keep {
			sv.restarts = slices.Delete(sv.restarts, 0, len(sv.restarts)-s.keep)
		}
		for _, r := range s.rules {
			if !watches(r, config.TriggerCrashLoop) || !covers(r, e.Service) {
				continue
			}
			rs := s.state(r, e.Service)
			n := countSince(sv.restarts, now.Add(-r.CrashLoop.Window), rs.loopFrom)
			if n >= r.CrashLoop.Restarts {
				msg := fmt.Sprintf("%s is crash-looping: %d restarts within %s; last: %s", e.Service, n, r.CrashLoop.Window, e.Reason)
				out = append(out, s.failOne(now, r, e, config.TriggerCrashLoop, msg, n)...)
			}
		}
	}
	return out
}

// countSince counts the times after both from and floor (inclusive of from).
func countSince(ts []time.Time, from, floor time.Time) int {
	n := 0
	for _, t := range ts {
		if !t.Before(from) && t.After(floor) {
			n++
		}
	}
	return n
}

func covers(r *config.AlertRule, service string) bool {
	return len(r.Services) == 0 || slices.Contains(r.Services, service)
}

func (s *State) state(r *config.AlertRule, service string) *ruleState {
	k := ruleKey{r.Name, service}
	rs := s.rs[k]
	if rs == nil {
		rs = &ruleState{}
		s.rs[k] = rs
	}
	return rs
}

// failure hands a failure of e.Service to every rule that watches it.
func (s *State) failure(now time.Time, e *api.Event, t config.AlertTrigger, msg string, restarts int) []Decision {
	var out []Decision
	for _, r := range s.rules {
		if watches(r, t) && covers(r, e.Service) {
			out = append(out, s.failOne(now, r, e, t, msg, restarts)...)
		}
	}
	return out
}

// failOne opens (or continues) rule r's episode for the service: the first
// failure of each trigger in an episode alerts, later ones are the same
// trouble going on and do not.
func (s *State) failOne(now time.Time, r *config.AlertRule, e *api.Event, t config.AlertTrigger, msg string, restarts int) []Decision {
	rs := s.state(r, e.Service)
	rs.open = true
	if !r.Has(t) || slices.Contains(rs.fired, t) {
		return nil
	}
	rs.fired = append(rs.fired, t)
	ev := *e
	d := Decision{Rule: r, Alert: api.Alert{Rule: r.Name, Trigger: string(t), Service: e.Service, Message: msg, Time: now, Restarts: restarts, Event: &ev}}
	d.Limited = !rs.allow(now, r.RateLimit)
	if !d.Limited {
		rs.notified = true
	}
	return []Decision{d}
}

// allow applies the rate limit: at most Burst alerts within Window.
func (rs *ruleState) allow(now time.Time, l config.Limit) bool {
	from := now.Add(-l.Window)
	rs.sent = slices.DeleteFunc(rs.sent, func(t time.Time) bool { return !t.After(from) })
	if len(rs.sent) >= l.Burst {
		return false
	}
	rs.sent = append(rs.sent, now)
	return true
}

// supervisor handles the core's and the upgrade's troubles: each one is
// its own incident, so only the rate limit holds them back.
func (s *State) supervisor(now time.Time, e *api.Event, k kind) []Decision {
	t := map[kind]config.AlertTrigger{kCoreCrash: config.TriggerCoreCrash, kCoreHung: config.TriggerCoreHung, kRolledBack: config.TriggerRolledBack}[k]
	var out []Decision
	for _, r := range s.rules {
		if !r.Has(t) {
			continue
		}
		rs := s.state(r, "")
		ev := *e
		msg := e.Reason
		if e.Message != "" && k == kRolledBack {
			msg += ": " + e.Message
		}
		d := Decision{Rule: r, Alert: api.Alert{Rule: r.Name, Trigger: string(t), Message: msg, Time: now, Event: &ev}}
		d.Limited = !rs.allow(now, r.RateLimit)
		out = append(out, d)
	}
	return out
}

// recoveries closes the episodes of services that have run Stable without
// an exit. A rule that sent a failure of the episode always sends its
// recovery, past the rate limit: nobody must be left believing a service
// is down. One that sends recoveries only is rate-limited as usual.
func (s *State) recoveries(now time.Time) []Decision {
	var out []Decision
	for _, r := range s.rules {
		for name, sv := range s.svc {
			rs := s.rs[ruleKey{r.Name, name}]
			if rs == nil || !rs.open || sv.upSince.IsZero() || now.Sub(sv.upSince) < r.Stable {
				continue
			}
			send := r.Has(config.TriggerRecovered) && (rs.notified || recoveryOnly(r))
			if send {
				d := Decision{Rule: r, Alert: api.Alert{Rule: r.Name, Trigger: string(config.TriggerRecovered), Service: name, Time: now,
					Message: fmt.Sprintf("%s recovered: running for %s without an exit", name, r.Stable)}}
				if !rs.notified {
					d.Limited = !rs.allow(now, r.RateLimit)
				}
				out = append(out, d)
			}
			rs.open, rs.notified, rs.fired, rs.loopFrom = false, false, nil, now
		}
	}
	// Map order is random; the caller sends in order, and tests compare.
	slices.SortStableFunc(out, func(a, b Decision) int { return strings.Compare(a.Alert.Service, b.Alert.Service) })
	return out
}

// wake is the earliest moment an open episode may turn into a recovery.
func (s *State) wake() time.Time {
	var at time.Time
	for _, r := range s.rules {
		for name, sv := range s.svc {
			rs := s.rs[ruleKey{r.Name, name}]
			if rs == nil || !rs.open || sv.upSince.IsZero() {
				continue
			}
			if t := sv.upSince.Add(r.Stable); at.IsZero() || t.Before(at) {
				at = t
			}
		}
	}
	return at
}
