package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
)

// Recorder is the event journal as the notifier uses it.
type Recorder interface {
	Record(api.Event)
}

// Options are what a Notifier is made of.
type Options struct {
	Alerts  config.Alerts
	Journal Recorder
	Logger  *slog.Logger
	// LookupEnv reads the supervisor's environment, for secrets named by
	// secret_env and password_env; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Environ is the base environment of exec destinations; nil means os.Environ().
	Environ []string
	// Host names this machine in alerts; empty means os.Hostname.
	Host string
	// Inbox bounds the events waiting to be looked at (default 1024) and
	// Queue the alerts waiting for each destination (default 64): past
	// them, events and alerts are dropped and counted, never waited for.
	Inbox, Queue int
}

// ErrUnknownRule is wrapped by Test for a rule the config does not have.
var ErrUnknownRule = errors.New("unknown alert rule")

// unknownRuleError carries the API's code for an unknown rule.
type unknownRuleError struct{ name string }

func (e *unknownRuleError) Error() string {
	if e.name == "" {
		return "no alert rules are configured (alerts.rules in the config)"
	}
	return fmt.Sprintf("no alert rule %q in the config", e.name)
}
func (e *unknownRuleError) Unwrap() error   { return ErrUnknownRule }
func (e *unknownRuleError) APICode() string { return api.CodeUnknownRule }

// Notifier watches the events recorded through it and sends the alerts its
// rules call for. Record hands each event to the journal and then to the
// notifier's inbox without waiting: the decisions run on one goroutine,
// each destination sends on its own, so a slow or dead destination delays
// nothing but its own alerts.
type Notifier struct {
	journal Recorder
	log     *slog.Logger
	host    string
	opts    Options // for the destinations of a reloaded config
	// setup is the rules and destinations in force: the loop is its only
	// writer (at a reload), Record and Test read it.
	setup atomic.Pointer[setup]
	// staged is the alerts section of the config a reload read; it takes
	// effect when the reload is applied (its journal event), not before.
	staged atomic.Pointer[config.Alerts]
	inbox  chan item

	// dropped counts events the inbox had no room for and alerts a
	// destination's queue had no room for.
	dropped atomic.Uint64
	// inboxDropped counts the events lost since the loop last said so.
	inboxDropped atomic.Uint64

	ctx    context.Context // ends the senders' attempts on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
	// closing guards sends on the inbox against its close: Record and sync
	// hold it shared, Close exclusive.
	closing sync.RWMutex
}

// destination is one configured destination and its queue.
type destination struct {
	name, kind string
	send       func(ctx context.Context, a api.Alert) (tries int, err error)
	queue      chan job
}

type job struct {
	rule  string
	alert api.Alert
}

// New builds the destinations and starts the notifier's goroutines. A
// destination that cannot work at all (a CA file that holds no
// certificate) fails each alert sent to it, and so does a secret that
// cannot be read when an alert is sent: each with its reason in the
// journal. An error means the rules name a destination that is not there.
func New(opts Options) (*Notifier, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.Environ == nil {
		opts.Environ = os.Environ()
	}
	if opts.Host == "" {
		opts.Host, _ = os.Hostname()
	}
	if opts.Inbox <= 0 {
		opts.Inbox = 1024
	}
	if opts.Queue <= 0 {
		opts.Queue = 64
	}
	n := &Notifier{
		journal: opts.Journal,
		log:     opts.Logger,
		host:    opts.Host,
		opts:    opts,
		inbox:   make(chan item, opts.Inbox),
	}
	su, err := n.build(opts.Alerts)
	if err != nil {
		return nil, err
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.start(su)
	n.wg.Add(1)
	go n.loop()
	return n, nil
}

// item is what the inbox holds: an event, or a request to say when
// everything before it has been looked at.
type item struct {
	ev     api.Event
	synced chan struct{}
}

// sync returns once the loop has looked at every event recorded before it:
// so that a test sent after `respawn reload` returned uses the reloaded rules.
func (n *Notifier) sync(ctx context.Context) error {
	done := make(chan struct{})
	n.closing.RLock()
	if n.closed.Load() {
		n.closing.RUnlock()
		return errors.New("alerts: the notifier is closed")
	}
	// The loop drains the inbox without the lock, so this send ends.
	select {
	case n.inbox <- item{synced: done}:
	case <-ctx.Done():
		n.closing.RUnlock()
		return ctx.Err()
	}
	n.closing.RUnlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setup is one config's rules and destinations.
type setup struct {
	rules []*config.AlertRule
	dests map[string]*destination
}

// build makes the destinations of a; nothing runs yet.
func (n *Notifier) build(a config.Alerts) (*setup, error) {
	su := &setup{rules: a.Rules, dests: map[string]*destination{}}
	for _, d := range a.Destinations {
		send, err := makeSender(d, n.opts)
		if err != nil {
			// Not fatal: a core that refused to start over an alert
			// destination would leave every service unsupervised. Each
			// alert to it fails with the reason instead.
			err = fmt.Errorf("alerts.destinations.%s: %w", d.Name, err)
			n.log.Error("alert destination unusable", "destination", d.Name, "err", err)
			send = func(context.Context, api.Alert) (int, error) { return 0, err }
		}
		su.dests[d.Name] = &destination{name: d.Name, kind: d.Kind(), send: send, queue: make(chan job, n.opts.Queue)}
	}
	for _, r := range su.rules {
		for _, to := range r.To {
			if su.dests[to] == nil {
				return nil, fmt.Errorf("alerts.rules.%s: unknown destination %q", r.Name, to)
			}
		}
	}
	return su, nil
}

// start puts su in force with a sender for each destination.
func (n *Notifier) start(su *setup) {
	for _, d := range su.dests {
		n.wg.Add(1)
		go n.sender(d)
	}
	n.setup.Store(su)
}

// Stage hands the notifier the alerts section of a config a reload has
// read. It takes effect when the reload is applied (the supervisor's
// "reload: ..." event reaches the notifier); a dry run, or a reload refused
// for its services, leaves the alerts as they are.
func (n *Notifier) Stage(a config.Alerts) { n.staged.Store(&a) }

// reload puts the staged alerts in force, keeping what the decisions know
// of the services and of the rules that keep their names. The destinations
// of the old config send what they already queued, then end.
func (n *Notifier) reload(st *State) *State {
	a := n.staged.Swap(nil)
	if a == nil {
		return st
	}
	su, err := n.build(*a)
	if err != nil {
		n.record(api.Event{Type: api.EventSupervisor, Reason: "alerts not reloaded", Message: err.Error()})
		return st
	}
	old := n.setup.Load()
	n.start(su)
	for _, d := range old.dests {
		close(d.queue)
	}
	return st.withRules(su.rules)
}

// makeSender is newSender; tests put fakes in its place.
var makeSender = newSender

func newSender(d *config.AlertDestination, opts Options) (func(context.Context, api.Alert) (int, error), error) {
	switch {
	case d.Exec != nil:
		return execSender(d.Exec, opts.Environ), nil
	case d.Webhook != nil:
		return webhookSender(d.Webhook, opts.LookupEnv), nil
	case d.Email != nil:
		return emailSender(d.Email, opts.LookupEnv, opts.Host)
	}
	return nil, errors.New("no kind")
}

// Record journals e and hands it to the decisions, never waiting: when the
// inbox is full the event is counted as dropped, and the loop records that
// once it catches up.
func (n *Notifier) Record(e api.Event) { n.Hold(e)() }

// holder is a Recorder that can write an event before its followers hear of
// it (journal.Journal).
type holder interface {
	Hold(api.Event) (release func())
}

// Hold is Record with the journal's followers told only by the release it
// returns, when the journal can hold events back (journal.Journal.Hold);
// the decisions get e at once either way.
func (n *Notifier) Hold(e api.Event) (release func()) {
	if e.Time.IsZero() {
		// Set here so that the journal and the decisions agree on it.
		e.Time = time.Now()
	}
	release = func() {}
	if h, ok := n.journal.(holder); ok {
		release = h.Hold(e)
	} else {
		n.journal.Record(e)
	}
	// Without rules only a reload can matter (it may bring some).
	if e.Type == api.EventAlert || (len(n.setup.Load().rules) == 0 && !isReload(&e)) {
		return release
	}
	n.closing.RLock()
	defer n.closing.RUnlock()
	if n.closed.Load() {
		return release
	}
	select {
	case n.inbox <- item{ev: e}:
	default:
		n.dropped.Add(1)
		n.inboxDropped.Add(1)
	}
	return release
}

// Dropped counts the events not looked at and the alerts not sent because
// a bound was reached.
func (n *Notifier) Dropped() uint64 { return n.dropped.Load() }

// Close stops the notifier: alerts still queued are dropped, and sends in
// progress are cut short. It waits for the goroutines, which the cut
// bounds to well under a second.
func (n *Notifier) Close() {
	n.closing.Lock()
	if n.closed.Swap(true) {
		n.closing.Unlock()
		return
	}
	n.cancel()
	close(n.inbox)
	n.closing.Unlock()
	n.wg.Wait()
}

// loop runs the decisions: every event, and a timer for the recoveries.
func (n *Notifier) loop() {
	defer n.wg.Done()
	defer func() {
		for _, d := range n.setup.Load().dests {
			close(d.queue)
		}
	}()
	st := NewState(n.setup.Load().rules)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var it item
		got, ok := false, true
		select {
		case it, ok = <-n.inbox:
			got = true
		case <-timer.C:
			// An event already waiting happened before this wake (a
			// restart just as the service was about to count as
			// recovered): it goes first, and the wake is worked out again.
			select {
			case it, ok = <-n.inbox:
				got = true
			default:
			}
		}
		if !ok {
			return
		}
		if it.synced != nil {
			// Everything before it has been looked at. What follows is a
			// tick: the wake this may have taken the place of is not lost.
			close(it.synced)
			got = false
		}
		var ev *api.Event
		if got {
			ev = &it.ev
		}
		if lost := n.inboxDropped.Swap(0); lost > 0 {
			n.record(api.Event{Type: api.EventAlert, Reason: "alert events dropped",
				Message: fmt.Sprintf("%d events were not looked at for alerts: too many at once", lost)})
		}
		if ev != nil && isReload(ev) {
			st = n.reload(st)
		}
		now := time.Now()
		if ev != nil && ev.Time.Before(now) {
			// Decide on the time the event happened, not when it got here.
			now = ev.Time
		}
		decisions, wake := st.Step(now, ev)
		for _, d := range decisions {
			n.dispatch(d)
		}
		timer.Stop()
		if !wake.IsZero() {
			timer.Reset(time.Until(wake))
		}
	}
}

// dispatch queues an alert for each of its rule's destinations.
func (n *Notifier) dispatch(d Decision) {
	d.Alert.Host = n.host
	dests := n.setup.Load().dests
	for _, to := range d.Rule.To {
		dst := dests[to]
		if d.Limited {
			n.outcome(dst, job{d.Rule.Name, d.Alert}, "alert rate-limited",
				fmt.Sprintf("more than %d alerts within %s", d.Rule.RateLimit.Burst, d.Rule.RateLimit.Window), 0, 0)
			continue
		}
		select {
		case dst.queue <- job{d.Rule.Name, d.Alert}:
		default:
			n.dropped.Add(1)
			n.outcome(dst, job{d.Rule.Name, d.Alert}, "alert dropped",
				fmt.Sprintf("%d alerts already wait for this destination", cap(dst.queue)), 0, 0)
		}
	}
}

// sender delivers one destination's alerts in order.
func (n *Notifier) sender(d *destination) {
	defer n.wg.Done()
	for j := range d.queue {
		if n.ctx.Err() != nil {
			n.dropped.Add(1)
			n.outcome(d, j, "alert dropped", "the supervisor's core is stopping", 0, 0)
			continue
		}
		n.deliver(n.ctx, d, j)
	}
}

// deliver sends one alert and records the outcome.
func (n *Notifier) deliver(ctx context.Context, d *destination, j job) api.AlertAttempt {
	start := time.Now()
	tries, err := d.send(ctx, j.alert)
	took := time.Since(start)
	at := api.AlertAttempt{Rule: j.rule, Destination: d.name, Kind: d.kind, OK: err == nil, Tries: tries, DurationMS: took.Milliseconds()}
	if err != nil {
		at.Error = err.Error()
		n.outcome(d, j, "alert failed", err.Error(), tries, took)
		n.log.Warn("alert failed", "rule", j.rule, "destination", d.name, "trigger", j.alert.Trigger, "service", j.alert.Service, "tries", tries, "err", err)
	} else {
		n.outcome(d, j, "alert sent", "", tries, took)
	}
	return at
}

// outcome records one attempt (or the lack of one) in the journal.
func (n *Notifier) outcome(d *destination, j job, reason, detail string, tries int, took time.Duration) {
	msg := fmt.Sprintf("rule %s, %s to %s (%s)", j.rule, j.alert.Trigger, d.name, d.kind)
	if tries > 0 {
		msg += fmt.Sprintf(", %d tries in %s", tries, took.Round(time.Millisecond))
	}
	if detail != "" {
		msg += ": " + detail
	}
	n.record(api.Event{Type: api.EventAlert, Service: j.alert.Service, Reason: reason, Message: msg})
}

func (n *Notifier) record(e api.Event) { n.journal.Record(e) }

// Test sends a test alert through the destinations of the named rule (every
// rule when name is empty) at once, past the queues and the rate limit,
// and returns each attempt's outcome once all have ended.
func (n *Notifier) Test(ctx context.Context, name string) ([]api.AlertAttempt, error) {
	if err := n.sync(ctx); err != nil {
		return nil, err
	}
	su := n.setup.Load()
	var rules []*config.AlertRule
	for _, r := range su.rules {
		if name == "" || r.Name == name {
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 {
		return nil, &unknownRuleError{name}
	}
	type slot struct {
		d *destination
		j job
	}
	var slots []slot
	for _, r := range rules {
		for _, to := range r.To {
			a := api.Alert{Rule: r.Name, Trigger: string(config.TriggerTest), Time: time.Now(), Host: n.host, Test: true,
				Message: fmt.Sprintf("test alert of rule %s from respawn on %s", r.Name, n.host)}
			slots = append(slots, slot{su.dests[to], job{r.Name, a}})
		}
	}
	out := make([]api.AlertAttempt, len(slots))
	var wg sync.WaitGroup
	for i, s := range slots {
		wg.Go(func() { out[i] = n.deliver(ctx, s.d, s.j) })
	}
	wg.Wait()
	return out, nil
}

// isReload says whether e is the supervisor's record of a reload being
// applied, which is when a reloaded alerts section takes effect.
func isReload(e *api.Event) bool {
	return e.Type == api.EventSupervisor && strings.HasPrefix(e.Message, "reload: ")
}
