// Package api holds the JSON wire types of the control API, shared by server and client.
package api

import "time"

// Paths of the control API. The same handler table serves them on the Unix socket.
const (
	PathStatus   = "/v1/status"
	PathStart    = "/v1/start"
	PathStop     = "/v1/stop"
	PathRestart  = "/v1/restart"
	PathShutdown = "/v1/shutdown"
)

// Status is the answer to GET /v1/status. Its field names are a stable contract.
type Status struct {
	Supervisor Supervisor `json:"supervisor"`
	Services   []Service  `json:"services"`
}

// Supervisor describes the running supervisor.
type Supervisor struct {
	Pid         int       `json:"pid"`
	CorePid     int       `json:"core_pid"`
	Version     string    `json:"version"`
	Config      string    `json:"config"`
	StateDir    string    `json:"state_dir"`
	StartedAt   time.Time `json:"started_at"`
	Containment string    `json:"containment"`
	// Platform is which of the system's process facilities the keeper
	// uses: "linux" (cgroups, subreaper, pidfds, parent-death signals) or
	// "posix" (only what every Unix has).
	Platform string `json:"platform"`
	// CoreRestarts counts the cores the keeper started after the first
	// (crashes, hangs, upgrades).
	CoreRestarts int `json:"core_restarts"`
	// Binary is the program the keeper runs.
	Binary string `json:"binary,omitempty"`
	// LastUpgrade is the outcome of the last `respawn upgrade`, if any.
	LastUpgrade *Upgraded `json:"last_upgrade,omitempty"`
	// LogDropped counts the lines the supervisor's own log (respawn.log, or
	// stderr) could not write; JournalDropped the events the journal could not.
	LogDropped     uint64 `json:"log_dropped"`
	JournalDropped uint64 `json:"journal_dropped"`
}

// Upgrade is the body of POST /v1/upgrade.
type Upgrade struct {
	// Binary is the new program; empty re-execs the keeper's own path.
	Binary string `json:"binary,omitempty"`
}

// Upgraded is the outcome of an upgrade.
type Upgraded struct {
	At     time.Time `json:"at"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Active string    `json:"active"`          // the binary running now
	Error  string    `json:"error,omitempty"` // why it was rolled back
}

// Service is one row of status.
type Service struct {
	Name        string     `json:"name"`
	Kind        string     `json:"kind"`
	State       string     `json:"state"`
	Wanted      string     `json:"wanted"` // "up" or "down"
	Since       time.Time  `json:"since"`
	Pid         int        `json:"pid"` // 0 when no process is alive
	Restarts    int        `json:"restarts"`
	StartedAt   *time.Time `json:"started_at"`            // of the current or last run; null before the first
	ExitCode    *int       `json:"exit_code"`             // of the last exit; null if none or killed by a signal
	ExitSignal  string     `json:"exit_signal"`           // e.g. "SIGKILL", empty if none
	Error       string     `json:"error"`                 // why it is failed or backing off
	WaitingOn   string     `json:"waiting_on,omitempty"`  // what a waiting service waits for
	Blocked     bool       `json:"blocked,omitempty"`     // the wait is one nothing will end by itself
	Health      string     `json:"health"`                // healthy, unhealthy or unknown
	NextRetryAt *time.Time `json:"next_retry_at"`         // pending backoff or cooldown, null if none
	NextRunAt   *time.Time `json:"next_run_at,omitempty"` // next run of a scheduled oneshot
	Containment string     `json:"containment"`           // cgroup or process-group
	LogDropped  uint64     `json:"log_dropped"`           // lines its log could not write (a full disk)
	// CPUPercent is the CPU the service's process tree used lately, in
	// percent of one CPU (over the time since the previous status, at least
	// a quarter second; since the run began at first); MemoryBytes its
	// memory (the cgroup's memory.current, else the RSS of its processes).
	// A status within a quarter second of the last measurement answers its
	// figures. Both null when no process runs or it cannot be measured.
	CPUPercent  *float64 `json:"cpu_percent"`
	MemoryBytes *uint64  `json:"memory_bytes"`
}

// Names is the body of start, stop and restart: service names, or "all".
type Names struct {
	Names []string `json:"names"`
}

// Result is the outcome of an action on one service.
type Result struct {
	Name  string `json:"name"`
	State string `json:"state"`
	Pid   int    `json:"pid"`
	Error string `json:"error,omitempty"`
	// Note says why a service not named in the command was acted on, e.g.
	// "started first: web needs it" or "stopped first: it needs db".
	Note string `json:"note,omitempty"`
}

// Results is the answer to start, stop and restart. The HTTP status is 200 even
// when some services did not reach their target: each Result says so.
type Results struct {
	Results []Result `json:"results"`
}

// Error is the body of every non-2xx answer.
type Error struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is a machine-readable code and a human message.
type ErrorBody struct {
	Code    string `json:"code"` // e.g. "unknown_service", "bad_request"
	Message string `json:"message"`
}

// Error codes.
const (
	CodeBadRequest     = "bad_request"
	CodeUnknownService = "unknown_service"
	CodeNotFound       = "not_found"
	CodeMethod         = "method_not_allowed"
	CodeInternal       = "internal"
	CodeShuttingDown   = "shutting_down"
	CodeForbidden      = "forbidden"       // the socket peer's credentials are not allowed
	CodeUnauthorized   = "unauthorized"    // HTTP without the right bearer token
	CodeConfig         = "config_error"    // a reload found errors in the config; nothing changed
	CodeUpgrade        = "upgrade_refused" // the new binary failed its check; nothing changed
	// CodeCoreRestarting (503) is the keeper's answer while no core serves
	// the socket; a Retry-After header says when one is expected.
	CodeCoreRestarting = "core_restarting"
)

// CodeTooManyRequests answers HTTP from an address that failed
// authentication too often; Retry-After says when it may try again.
const CodeTooManyRequests = "too_many_requests"

// Paths added by the control plane.
const (
	PathEvents = "/v1/events" // GET ?since=DUR|RFC3339&n=N&follow=1: NDJSON of Event
	PathLogs   = "/v1/logs"   // GET ?name=A&name=B&n=N&since=DUR|RFC3339&follow=1: NDJSON of LogLine
	PathWhy    = "/v1/why"    // GET ?name=A: Why
	PathSignal = "/v1/signal" // POST Signal: Results
	PathReload = "/v1/reload" // POST Reload: Plan
	// PathUpgrade re-execs the keeper with a new binary: POST Upgrade, answered
	// once the binary passed its check (the core then restarts).
	PathUpgrade = "/v1/upgrade"
)

// Event is one record of the event journal.
type Event struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"` // one of the Event* constants
	Service string    `json:"service,omitempty"`
	Gen     uint64    `json:"gen,omitempty"`
	Pid     int       `json:"pid,omitempty"`
	// State changes.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Why it happened, in words.
	Reason string `json:"reason,omitempty"`
	// Exits.
	ExitCode *int   `json:"exit_code,omitempty"`
	Signal   string `json:"signal,omitempty"`
	OOM      bool   `json:"oom,omitempty"`
	// Respawn decisions.
	DelayMS int64 `json:"delay_ms,omitempty"`
	Attempt int   `json:"attempt,omitempty"`
	// Control commands and refused connections: who asked.
	Command   string   `json:"command,omitempty"`
	Args      []string `json:"args,omitempty"`
	UID       *int     `json:"uid,omitempty"`
	CallerPid int      `json:"caller_pid,omitempty"`
	Message   string   `json:"message,omitempty"`
}

// Event types.
const (
	EventState      = "state"      // a service changed state
	EventExit       = "exit"       // a service's process exited
	EventRespawn    = "respawn"    // the restart policy decided (delay, attempt, limit)
	EventCommand    = "command"    // a control command, with the caller's uid and pid
	EventRefused    = "refused"    // a connection refused for its credentials or token
	EventSupervisor = "supervisor" // the supervisor started, reloaded, stopped
	EventSchedule   = "schedule"   // a scheduled run started, or was skipped
	EventLog        = "log"        // a log file started or stopped dropping lines
)

// LogLine is one captured output line, as `respawn logs -o json` prints it.
type LogLine struct {
	Time    time.Time `json:"time"`
	Service string    `json:"service"`
	Stream  string    `json:"stream"` // stdout or stderr
	Line    string    `json:"line"`
}

// Signal is the body of POST /v1/signal.
type Signal struct {
	Signal string   `json:"signal"` // TERM, SIGTERM or 15
	Names  []string `json:"names"`
}

// Why explains one service.
type Why struct {
	Service  Service   `json:"service"`
	Exits    []WhyExit `json:"exits"`    // most recent last
	Attempts int       `json:"attempts"` // consecutive failed runs counted by the restart policy
	// StartsInWindow and Burst describe the start limit: StartsInWindow of Burst
	// starts used within Window.
	StartsInWindow int    `json:"starts_in_window"`
	Burst          int    `json:"burst"`
	Window         string `json:"window"`
	Summary        string `json:"summary"` // one line: what is going on
	// Dependencies is the state of what the service depends on.
	Dependencies []WhyDependency `json:"dependencies"`
	// WaitingOn says what a waiting service waits for; Blocked, that nothing
	// will end the wait by itself (a dependency failed for good, or is down
	// and not wanted up).
	WaitingOn string `json:"waiting_on,omitempty"`
	Blocked   bool   `json:"blocked,omitempty"`
	// NotifyDropped counts the sd_notify datagrams thrown away (from a
	// process not the service's, without credentials, or too long);
	// NotifyDrops are the most recent of them, oldest first.
	NotifyDropped uint64          `json:"notify_dropped,omitempty"`
	NotifyDrops   []WhyNotifyDrop `json:"notify_drops,omitempty"`
}

// WhyNotifyDrop is one sd_notify datagram thrown away, and why.
type WhyNotifyDrop struct {
	Time   time.Time `json:"time"`
	Pid    int       `json:"pid,omitempty"`
	Reason string    `json:"reason"`
}

// WhyDependency is one entry of a service's depends_on, as it stands.
type WhyDependency struct {
	Name      string `json:"name"`
	Condition string `json:"condition"`
	Restart   bool   `json:"restart"`
	State     string `json:"state"`
	Satisfied bool   `json:"satisfied"`
}

// WhyExit is one past run of a service.
type WhyExit struct {
	StartedAt time.Time `json:"started_at"`
	ExitedAt  time.Time `json:"exited_at"`
	Pid       int       `json:"pid"`
	ExitCode  *int      `json:"exit_code"`
	Signal    string    `json:"signal,omitempty"`
	OOM       bool      `json:"oom,omitempty"`
	Decision  string    `json:"decision"`
	LastLines []LogLine `json:"last_lines"`
}

// Reload is the body of POST /v1/reload.
type Reload struct {
	DryRun bool `json:"dry_run"`
}

// Plan is what a reload does (or, dry, would do).
type Plan struct {
	Applied   bool     `json:"applied"`
	Add       []string `json:"add"`       // started
	Remove    []string `json:"remove"`    // stopped and forgotten
	Restart   []string `json:"restart"`   // the process changed: stopped and started with the new definition
	Update    []string `json:"update"`    // changed in place (restart policy, stop settings): no restart
	Unchanged []string `json:"unchanged"` // untouched, pid kept
	// Changes lists, for each service restarted or updated, the keys whose
	// value changed, old and new.
	Changes []KeyChange `json:"changes"`
}

// KeyChange is one key of a service that a reload changes.
type KeyChange struct {
	Service string `json:"service"`
	Key     string `json:"key"` // as in the config file: command, env, restart, ...
	Old     string `json:"old"`
	New     string `json:"new"`
}

// EventAlert records an alert's attempt (sent, failed with its error,
// dropped, rate-limited).
const EventAlert = "alert"

// PathAlertsTest sends a test alert through a rule's destinations (all
// rules when Rule is empty): POST AlertsTest, answered AlertAttempts once
// every attempt ended.
const PathAlertsTest = "/v1/alerts/test"

// CodeUnknownRule answers a test of a rule the config does not have (404).
const CodeUnknownRule = "unknown_rule"

// Alert is what a destination receives: the JSON body of a webhook, the
// stdin of an exec command, the data of an email's templates.
type Alert struct {
	Rule    string    `json:"rule"`
	Trigger string    `json:"trigger"` // failed, crash_loop, recovered, unhealthy, core_crashed, core_hung, upgrade_rolled_back, test
	Service string    `json:"service,omitempty"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
	Host    string    `json:"host"`
	// Restarts counts the restarts within the crash-loop window.
	Restarts int  `json:"restarts,omitempty"`
	Test     bool `json:"test,omitempty"`
	// Event is the journal event that set the alert off; nil for a recovery
	// (the passing of time) and a test.
	Event *Event `json:"event,omitempty"`
}

// AlertsTest is the body of POST /v1/alerts/test.
type AlertsTest struct {
	Rule string `json:"rule,omitempty"`
}

// AlertAttempts is the answer to POST /v1/alerts/test.
type AlertAttempts struct {
	Attempts []AlertAttempt `json:"attempts"`
}

// AlertAttempt is the outcome of one alert sent to one destination.
type AlertAttempt struct {
	Rule        string `json:"rule"`
	Destination string `json:"destination"`
	Kind        string `json:"kind"` // exec, webhook or email
	OK          bool   `json:"ok"`
	Error       string `json:"error,omitempty"`
	// Tries counts the tries made (a webhook retries).
	Tries      int   `json:"tries"`
	DurationMS int64 `json:"duration_ms"`
}
