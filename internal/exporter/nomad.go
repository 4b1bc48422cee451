package exporter

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/respawn-sh/respawn/internal/config"
)

// The nomad job, as `nomad job run -json` reads it (the API's field
// names); durations are nanoseconds there.
type (
	nomadFile struct {
		Job nomadJob
	}
	nomadJob struct {
		ID          string
		Name        string
		Type        string
		Datacenters []string
		Periodic    *nomadPeriodic `json:",omitempty"`
		TaskGroups  []nomadGroup
	}
	nomadPeriodic struct {
		Enabled         bool
		SpecType        string
		Spec            string
		ProhibitOverlap bool
	}
	nomadGroup struct {
		Name          string
		Count         int
		RestartPolicy nomadRestart
		Networks      []nomadNetwork `json:",omitempty"`
		Tasks         []nomadTask
	}
	nomadRestart struct {
		Attempts int
		Interval time.Duration
		Delay    time.Duration
		Mode     string
	}
	nomadNetwork struct {
		ReservedPorts []nomadPort
	}
	nomadPort struct {
		Label string
		Value int
	}
	nomadTask struct {
		Name          string
		Driver        string
		Lifecycle     *nomadLifecycle `json:",omitempty"`
		Config        nomadRawExec
		Env           map[string]string `json:",omitempty"`
		Services      []nomadService    `json:",omitempty"`
		Resources     *nomadResources   `json:",omitempty"`
		RestartPolicy *nomadRestart     `json:",omitempty"`
		KillTimeout   time.Duration
		KillSignal    string
		LogConfig     nomadLogs
	}
	nomadLifecycle struct {
		Hook    string
		Sidecar bool
	}
	nomadRawExec struct {
		Command string   `json:"command"`
		Args    []string `json:"args"`
	}
	nomadService struct {
		Name         string
		Provider     string
		PortLabel    string
		Address      string
		Checks       []nomadCheck
		CheckRestart *nomadCheckRestart `json:",omitempty"`
	}
	nomadCheck struct {
		Name     string
		Type     string
		Path     string `json:",omitempty"`
		Protocol string `json:",omitempty"`
		Interval time.Duration
		Timeout  time.Duration
	}
	nomadCheckRestart struct {
		Limit int
		Grace *time.Duration `json:",omitempty"`
	}
	nomadResources struct {
		MemoryMB int
	}
	nomadLogs struct {
		MaxFiles      int
		MaxFileSizeMB int
	}
)

// Nomad writes PROJECT.nomad.json, a service job with a group per
// long-running service, each a raw_exec task. A oneshot that others depend
// on runs as a prestart task in each of their groups; a scheduled oneshot
// is a periodic batch job of its own (periodic is a job's setting), and so
// is any other oneshot: PROJECT-NAME.nomad.json.
func Nomad(cfg *config.Config, opt Options) (Result, error) {
	var r Result
	main := nomadJob{ID: project(cfg), Name: project(cfg), Type: "service", Datacenters: []string{"*"}}
	var extra []nomadJob
	prestarted := map[string]bool{}
	for _, s := range cfg.Services {
		for _, d := range s.DependsOn {
			if dep := cfg.Service(d.Name); dep.Kind == config.KindOneshot && dep.Schedule == nil {
				prestarted[d.Name] = true
			}
		}
	}
	for _, s := range cfg.Services {
		switch {
		case s.Instance > 1:
			continue // instance 1 stands for all
		case s.Kind == config.KindExternal:
			r.notef(s, "kind", "external: nomad runs the tasks it starts; it cannot adopt a process")
			continue
		case s.Kind == config.KindOneshot && prestarted[s.Name]:
			// A prestart task of its dependents' groups, which start with
			// it: its own dependencies are not waited for.
			for _, d := range s.DependsOn {
				r.notef(s, "depends_on."+d.Name, "%s runs as a prestart task of the groups that depend on it, which do not wait for %s", s.Name, d.Name)
			}
			if s.Ready != nil {
				r.notef(s, "ready."+probeKind(s.Ready), "a prestart task takes no checks")
			}
			if s.ReplicaOf != "" {
				r.notef(s, "replicas", "a prestart task runs once in each group that depends on it")
			}
			continue
		}
		g := nomadGroupOf(cfg, s, opt, &r)
		if s.Kind != config.KindOneshot {
			main.TaskGroups = append(main.TaskGroups, g)
			continue
		}
		job := nomadJob{ID: project(cfg) + "-" + s.Name, Name: project(cfg) + "-" + s.Name, Type: "batch", Datacenters: []string{"*"}, TaskGroups: []nomadGroup{g}}
		if s.Schedule != nil {
			spec, err := nomadSchedule(s, &r)
			if err != nil {
				return Result{}, err
			}
			job.Periodic = &nomadPeriodic{Enabled: true, SpecType: "cron", Spec: spec, ProhibitOverlap: true}
		}
		extra = append(extra, job)
	}
	for _, j := range append([]nomadJob{main}, extra...) {
		if len(j.TaskGroups) == 0 {
			continue
		}
		data, err := json.MarshalIndent(nomadFile{Job: j}, "", "  ")
		if err != nil {
			return Result{}, fmt.Errorf("nomad %s: %w", j.ID, err)
		}
		r.Files = append(r.Files, File{Name: j.ID + ".nomad.json", Data: append(data, '\n')})
	}
	return r, nil
}

// nomadSchedule gives a periodic job's cron, saying what a periodic job
// does otherwise than respawn's schedule.
func nomadSchedule(s *config.Service, r *Result) (string, error) {
	r.notef(s, "schedule", "a periodic job's times are in UTC unless its time_zone is set; respawn's are the host's")
	if s.Autostart {
		r.notef(s, "autostart", "a periodic job runs at its times only, not once when submitted")
	}
	return numericSchedule(s, r)
}

func nomadGroupOf(cfg *config.Config, s *config.Service, opt Options, r *Result) nomadGroup {
	g := nomadGroup{Name: composeName(s), Count: 1, RestartPolicy: nomadRestartOf(s, r)}
	if s.ReplicaOf != "" {
		g.Count = 0
		for _, o := range cfg.Services {
			if o.ReplicaOf == s.ReplicaOf {
				g.Count++
			}
		}
		r.notef(s, "replicas", "every allocation gets the same command, cwd and env, those of %s without RESPAWN_INSTANCE (nomad sets NOMAD_ALLOC_INDEX, from 0)", s.Name)
	}
	if !s.Autostart && s.Schedule == nil {
		g.Count = 0 // scale it up to start it
	}
	prestart := map[string]bool{}
	for _, d := range s.DependsOn {
		dep := cfg.Service(d.Name)
		if dep.Kind == config.KindOneshot && dep.Schedule == nil {
			// The instances of a replicated oneshot are one task.
			if prestart[composeName(dep)] {
				continue
			}
			prestart[composeName(dep)] = true
			t := nomadTaskOf(dep, opt, r)
			t.Lifecycle = &nomadLifecycle{Hook: "prestart"}
			rp := nomadRestartOf(dep, r)
			t.RestartPolicy = &rp
			g.Tasks = append(g.Tasks, t)
			continue
		}
		key := "depends_on." + d.Name
		if d.Restart {
			key += ", " + key + ".restart"
		}
		r.notef(s, key, "nomad does not order groups or jobs: %s must retry until %s is %s", s.Name, d.Name, d.Condition)
	}
	t := nomadTaskOf(s, opt, r)
	if svc, port := nomadChecks(s, r); svc != nil {
		t.Services = []nomadService{*svc}
		g.Networks = []nomadNetwork{{ReservedPorts: []nomadPort{port}}}
	}
	g.Tasks = append(g.Tasks, t)
	return g
}

// nomadRestartOf maps the policy: attempts within the window, then wait
// out the window (cooldown) or fail (cooldown 0).
func nomadRestartOf(s *config.Service, r *Result) nomadRestart {
	rs := s.Restart
	p := nomadRestart{Attempts: rs.Limit.Burst, Interval: rs.Limit.Window, Delay: rs.Backoff.Initial, Mode: "delay"}
	if rs.Cooldown == 0 {
		p.Mode = "fail"
	}
	if rs.Policy == config.RestartNever {
		return nomadRestart{Attempts: 0, Interval: time.Minute, Delay: rs.Backoff.Initial, Mode: "fail"}
	}
	if rs.Limit.Burst == 0 {
		// Nomad wants a number: as many attempts as fit in a day.
		p.Interval = 24 * time.Hour
		p.Attempts = int(p.Interval / max(p.Delay, time.Second))
		r.notef(s, "restart.limit", "burst 0 (no limit) is written as %d attempts a day", p.Attempts)
	}
	r.notef(s, "restart.backoff, restart.reset_after", "nomad waits Delay=%s before every restart: no growth up to %s, no jitter", seconds(rs.Backoff.Initial), seconds(rs.Backoff.Max))
	if rs.Cooldown > 0 {
		r.notef(s, "restart.cooldown", "mode delay waits until the %s interval ends, not for the cooldown of %s", seconds(p.Interval), seconds(rs.Cooldown))
	}
	if s.Kind == config.KindOneshot && rs.Policy == config.RestartAlways {
		r.notef(s, "restart.policy", "a batch task is not run again after a success")
	}
	if s.Kind != config.KindOneshot && rs.Policy == config.RestartOnFailure {
		r.notef(s, "restart.policy", "a service job's task is restarted whenever it exits")
	}
	if len(rs.SuccessCodes) != 1 || rs.SuccessCodes[0] != 0 {
		r.notef(s, "restart.success_codes", "nomad counts only exit 0 as success")
	}
	return p
}

// nomadTaskOf is the raw_exec task of a service. raw_exec has no working
// dir setting: the command runs through sh, which changes to cwd first.
func nomadTaskOf(s *config.Service, opt Options, r *Result) nomadTask {
	argv := program(s, s.Command, opt, r)
	t := nomadTask{
		Name:        composeName(s),
		Driver:      "raw_exec",
		Config:      nomadRawExec{Command: "/bin/sh", Args: append([]string{"-c", `cd "$0" && exec "$@"`, s.Cwd}, argv...)},
		KillTimeout: s.Stop.Timeout,
		KillSignal:  "SIG" + s.Stop.Signal,
		LogConfig:   nomadLogs{MaxFiles: s.Logs.MaxFiles, MaxFileSizeMB: max(1, int(math.Ceil(float64(s.Logs.MaxSize)/1e6)))},
	}
	for _, kv := range s.Env {
		k, v := splitEnv(kv)
		if s.ReplicaOf != "" && k == "RESPAWN_INSTANCE" {
			continue
		}
		if t.Env == nil {
			t.Env = map[string]string{}
		}
		t.Env[k] = v
	}
	if s.Health != nil && s.Health.MemoryMax > 0 {
		t.Resources = &nomadResources{MemoryMB: max(1, int(math.Ceil(float64(s.Health.MemoryMax)/(1<<20))))}
	}
	if s.User != "" {
		r.notef(s, "user", "raw_exec runs tasks as the nomad client's user")
	}
	// Nomad expands ${...} in a task's config and env, with no escape.
	for _, w := range append(append([]string(nil), t.Config.Args...), s.Env...) {
		if strings.Contains(w, "${") {
			r.notef(s, "command, env", "nomad will expand the ${...} in %q", w)
		}
	}
	if s.Kind == config.KindForking {
		r.notef(s, "kind", "forking: nomad restarts a task whose process exits, so the command must stay in the foreground (pidfile %s is not read)", s.Pidfile)
	}
	if s.Stop.Command != nil {
		r.notef(s, "stop.command", "nomad stops a task with a signal only (%s)", t.KillSignal)
	}
	noteSockets(s, r, "nomad", "the program must bind it itself")
	if s.Umask != nil {
		r.notef(s, "umask", "raw_exec has no umask: the command must set %04o itself", *s.Umask)
	}
	for _, name := range sortedKeys(s.Rlimits) {
		r.notef(s, "rlimits."+name, "raw_exec sets no rlimits: the client's apply")
	}
	if s.ServiceGroup != "" {
		r.notef(s, "group", "nomad has no service groups")
	}
	return t
}

// nomadChecks turns http and tcp probes into checks of a nomad service on
// the probe's port: ready as a plain check, health with check_restart.
// Both probes must name the same port, nomad's service has one.
func nomadChecks(s *config.Service, r *Result) (*nomadService, nomadPort) {
	var svc *nomadService
	var port nomadPort
	for _, b := range []struct {
		block string
		p     *config.Probe
	}{{"ready", s.Ready}, {"health", s.Health}} {
		if b.p == nil || probeKind(b.p) == "" {
			continue
		}
		kind := probeKind(b.p)
		if s.Kind == config.KindOneshot {
			r.notef(s, b.block+"."+kind, "a batch task takes no checks")
			continue
		}
		c := nomadCheck{Name: composeName(s) + "-" + b.block, Type: kind, Interval: b.p.Interval, Timeout: b.p.Timeout}
		var hostport string
		switch kind {
		case "http":
			u, err := url.Parse(b.p.HTTP)
			if err != nil {
				r.notef(s, b.block+".http", "%q is not a URL nomad can check", b.p.HTTP)
				continue
			}
			c.Path, c.Protocol = u.RequestURI(), u.Scheme
			hostport = u.Host
			if u.Port() == "" {
				hostport = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
			}
		case "tcp":
			hostport = b.p.TCP
		default:
			r.notef(s, b.block+"."+kind, "nomad's own checks are http and tcp only")
			continue
		}
		host, ps, _ := net.SplitHostPort(hostport)
		pn, err := strconv.Atoi(ps)
		if err != nil {
			r.notef(s, b.block+"."+kind, "port %q is a service name; nomad needs a number", ps)
			continue
		}
		if host == "" {
			host = "127.0.0.1"
		}
		if svc == nil {
			port = nomadPort{Label: "p" + ps, Value: pn}
			svc = &nomadService{Name: k8sLabelUnsafe.Get().ReplaceAllString(strings.ToLower(composeName(s)), "-"), Provider: "nomad", PortLabel: port.Label, Address: host}
		} else if port.Value != pn {
			r.notef(s, b.block+"."+kind, "port %d is not the ready probe's %d: a nomad service has one port", pn, port.Value)
			continue
		}
		svc.Checks = append(svc.Checks, c)
		if b.block == "health" {
			svc.CheckRestart = &nomadCheckRestart{Limit: b.p.Failures}
			if s.Ready != nil {
				grace := s.Ready.Deadline
				svc.CheckRestart.Grace = &grace
			}
		}
	}
	if svc != nil && s.Ready != nil {
		r.notef(s, "ready.deadline", "a check does not stop a task that is not ready in time")
	}
	return svc, port
}
