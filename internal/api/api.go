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
	StartedAt   *time.Time `json:"started_at"`    // of the current or last run; null before the first
	ExitCode    *int       `json:"exit_code"`     // of the last exit; null if none or killed by a signal
	ExitSignal  string     `json:"exit_signal"`   // e.g. "SIGKILL", empty if none
	Error       string     `json:"error"`         // why it is failed or backing off
	Health      string     `json:"health"`        // healthy, unhealthy or unknown
	NextRetryAt *time.Time `json:"next_retry_at"` // pending backoff or cooldown, null if none
	Containment string     `json:"containment"`   // cgroup or process-group
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
)
