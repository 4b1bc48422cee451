package exporter

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/respawn-sh/respawn/internal/bootinstall"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/lazy"
)

// Systemd writes one unit per service (an instance of replicas gets a unit
// of its own, worker.1.service, rather than a template: each instance's
// command, env and cwd may differ), a .timer per scheduled service, and a
// PROJECT.target that wants what `respawn up` would start.
func Systemd(cfg *config.Config, opt Options) (Result, error) {
	var r Result
	target := project(cfg) + ".target"
	var wants []string
	for _, s := range cfg.Services {
		if s.Kind == config.KindExternal {
			r.notef(s, "kind", "external: systemd gets no unit for a process respawn does not start; a unit that depends on it waits for its unit (unit:) if it names one")
			continue
		}
		unit := systemdService(cfg, s, target, opt, &r)
		r.Files = append(r.Files, File{Name: s.Name + ".service", Data: []byte(unit)})
		if s.Schedule != nil {
			timer, err := systemdTimer(s, target)
			if err != nil {
				return Result{}, err
			}
			r.Files = append(r.Files, File{Name: s.Name + ".timer", Data: []byte(timer)})
			wants = append(wants, s.Name+".timer")
		}
		if s.Autostart {
			wants = append(wants, s.Name+".service")
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[Unit]\nDescription=services of %s\n", systemdSpecifiers(cfg.Path))
	for _, w := range wants {
		fmt.Fprintf(&b, "Wants=%s\n", w)
	}
	fmt.Fprintf(&b, "\n[Install]\nWantedBy=multi-user.target\n")
	r.Files = append(r.Files, File{Name: target, Data: []byte(b.String())})
	return r, nil
}

// systemdRlimits maps respawn's rlimit names to systemd's keys.
var systemdRlimits = &lazy.Value[map[string]string]{Build: func() map[string]string {
	return map[string]string{
		"as": "LimitAS", "core": "LimitCORE", "cpu": "LimitCPU", "data": "LimitDATA", "fsize": "LimitFSIZE",
		"locks": "LimitLOCKS", "memlock": "LimitMEMLOCK", "msgqueue": "LimitMSGQUEUE", "nice": "LimitNICE",
		"nofile": "LimitNOFILE", "nproc": "LimitNPROC", "rtprio": "LimitRTPRIO", "sigpending": "LimitSIGPENDING",
		"stack": "LimitSTACK",
	}
}}

func systemdService(cfg *config.Config, s *config.Service, target string, opt Options, r *Result) string {
	var u, sv strings.Builder
	fmt.Fprintf(&u, "[Unit]\nDescription=%s (from %s)\nPartOf=%s\n", s.Name, systemdSpecifiers(cfg.Path), target)
	systemdDeps(cfg, s, &u, r)
	if s.Restart.Limit.Burst == 0 {
		fmt.Fprintf(&u, "StartLimitIntervalSec=0\n")
	} else {
		fmt.Fprintf(&u, "StartLimitIntervalSec=%s\nStartLimitBurst=%d\n", seconds(s.Restart.Limit.Window), s.Restart.Limit.Burst)
	}

	switch {
	case s.Kind == config.KindOneshot:
		fmt.Fprintf(&sv, "Type=oneshot\n")
		// Active after success, so that After= on it means "completed";
		// not for a scheduled one, which its timer could not start again.
		if s.Schedule == nil {
			fmt.Fprintf(&sv, "RemainAfterExit=yes\n")
		}
	case s.Kind == config.KindForking:
		fmt.Fprintf(&sv, "Type=forking\nPIDFile=%s\n", systemdSpecifiers(s.Pidfile))
	case s.Ready != nil && s.Ready.Notify:
		// respawn takes READY=1 from any process of the service.
		fmt.Fprintf(&sv, "Type=notify\nNotifyAccess=all\n")
	default:
		fmt.Fprintf(&sv, "Type=exec\n")
	}
	noteSockets(s, r, "the exported unit", "write a .socket unit with ListenStream= for each (systemd passes the same LISTEN_FDS)")
	fmt.Fprintf(&sv, "ExecStart=%s\n", bootinstall.SystemdExec(program(s, s.Command, opt, r)...))
	if s.Stop.Command != nil {
		fmt.Fprintf(&sv, "ExecStop=%s\n", bootinstall.SystemdExec(program(s, s.Stop.Command, opt, r)...))
	}
	fmt.Fprintf(&sv, "WorkingDirectory=%s\n", systemdSpecifiers(s.Cwd))
	for _, kv := range s.Env {
		fmt.Fprintf(&sv, "Environment=%s\n", systemdEnv(kv))
	}
	if s.User != "" {
		fmt.Fprintf(&sv, "User=%s\n", systemdSpecifiers(s.User))
	}
	if s.Group != "" {
		fmt.Fprintf(&sv, "Group=%s\n", systemdSpecifiers(s.Group))
	}
	if s.Umask != nil {
		fmt.Fprintf(&sv, "UMask=%04o\n", *s.Umask)
	}
	for _, name := range sortedKeys(s.Rlimits) {
		l := s.Rlimits[name]
		fmt.Fprintf(&sv, "%s=%s:%s\n", systemdRlimits.Get()[name], rlimitValue(l.Soft), rlimitValue(l.Hard))
	}
	systemdRestart(s, &sv, r)
	systemdProbes(s, &sv, r)
	// The whole tree gets the stop signal, then SIGKILL after the timeout,
	// as respawn stops a service.
	fmt.Fprintf(&sv, "KillMode=control-group\nKillSignal=SIG%s\nTimeoutStopSec=%s\n", s.Stop.Signal, seconds(s.Stop.Timeout))
	systemdCommon(s, r)

	return u.String() + "\n[Service]\n" + sv.String()
}

// systemdDeps writes After= and Requires= for every dependency, BindsTo=
// and PartOf= for those with restart: true.
func systemdDeps(cfg *config.Config, s *config.Service, b *strings.Builder, r *Result) {
	for _, d := range s.DependsOn {
		dep := cfg.Service(d.Name)
		unit := d.Name + ".service"
		if dep.Kind == config.KindExternal {
			if dep.Unit == "" {
				r.notef(s, "depends_on."+d.Name, "%s is kind: external without a unit: systemd has nothing to wait for", d.Name)
				continue
			}
			unit = dep.Unit
		}
		fmt.Fprintf(b, "After=%s\n", unit)
		if d.Restart {
			// BindsTo stops this unit when the dependency stops or fails;
			// PartOf restarts it when the dependency is restarted by a job.
			fmt.Fprintf(b, "BindsTo=%s\nPartOf=%s\n", unit, unit)
			r.notef(s, "depends_on."+d.Name+".restart", "carried over as BindsTo= and PartOf=: systemd stops %s when %s stops and restarts it with `systemctl restart`, but does not start it again after %s's own automatic restart", s.Name, d.Name, d.Name)
		} else {
			fmt.Fprintf(b, "Requires=%s\n", unit)
		}
		if d.Condition == config.CondReady && dep.Ready != nil && !dep.Ready.Notify {
			r.notef(s, "depends_on."+d.Name, "condition ready: systemd knows when %s is ready only through sd_notify; %s starts once %s has started", d.Name, s.Name, d.Name)
		}
	}
}

func systemdRestart(s *config.Service, b *strings.Builder, r *Result) {
	rs := s.Restart
	policy := map[config.RestartPolicy]string{config.RestartAlways: "always", config.RestartOnFailure: "on-failure", config.RestartNever: "no"}[rs.Policy]
	if s.Kind == config.KindOneshot && rs.Policy == config.RestartAlways {
		policy = "on-failure"
		r.notef(s, "restart.policy", "systemd does not run a oneshot again after a success (Restart=always is refused for Type=oneshot); on-failure instead")
	}
	fmt.Fprintf(b, "Restart=%s\nRestartSec=%s\n", policy, seconds(rs.Backoff.Initial))
	var codes []string
	for _, c := range rs.SuccessCodes {
		if c != 0 {
			codes = append(codes, fmt.Sprint(c))
		}
	}
	if len(codes) > 0 {
		fmt.Fprintf(b, "SuccessExitStatus=%s\n", strings.Join(codes, " "))
	}
	if !slices.Contains(rs.SuccessCodes, 0) {
		r.notef(s, "restart.success_codes", "systemd always counts exit 0 as success")
	}
	if rs.Policy != config.RestartNever {
		if rs.Backoff.Max > rs.Backoff.Initial || rs.Backoff.Jitter > 0 {
			r.notef(s, "restart.backoff, restart.reset_after", "systemd waits RestartSec=%s before every restart: no growth up to %s, no jitter, so nothing to reset", seconds(rs.Backoff.Initial), seconds(rs.Backoff.Max))
		}
		if rs.Cooldown > 0 {
			r.notef(s, "restart.cooldown", "a unit past StartLimitBurst stays failed until `systemctl reset-failed`; it is not retried after %s", seconds(rs.Cooldown))
		}
	}
}

func systemdProbes(s *config.Service, b *strings.Builder, r *Result) {
	if p := s.Ready; p != nil {
		if p.Notify {
			fmt.Fprintf(b, "TimeoutStartSec=%s\n", seconds(p.Deadline))
		} else {
			r.notef(s, "ready."+probeKind(p), "systemd has no readiness probe but sd_notify: the unit counts as started once spawned")
		}
	}
	if p := s.Health; p != nil {
		switch {
		case p.Notify:
			fmt.Fprintf(b, "WatchdogSec=%s\n", seconds(p.Watchdog))
		case probeKind(p) != "":
			r.notef(s, "health."+probeKind(p), "systemd has no liveness probe but the sd_notify watchdog")
		}
		if p.MemoryMax > 0 {
			// MemoryMax= is a cgroup limit: the kernel reclaims and then
			// OOM-kills, where respawn restarts the service.
			fmt.Fprintf(b, "MemoryMax=%d\n", p.MemoryMax)
		}
	}
}

// systemdCommon notes what no unit carries: keys that belong to respawn
// itself.
func systemdCommon(s *config.Service, r *Result) {
	if s.ServiceGroup != "" {
		r.notef(s, "group", "systemd has no service groups; all units are PartOf= the target")
	}
	r.notef(s, "logs", "output goes to the journal; its size is journald's setting, not max_size/max_files")
}

func systemdTimer(s *config.Service, target string) (string, error) {
	c, err := parseCron(s.Schedule.String())
	if err != nil {
		return "", fmt.Errorf("%s: %w", s.Name, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[Unit]\nDescription=schedule of %s\nPartOf=%s\n\n[Timer]\n", s.Name, target)
	if c.every > 0 {
		fmt.Fprintf(&b, "OnActiveSec=%s\nOnUnitActiveSec=%s\n", seconds(c.every), seconds(c.every))
	} else {
		for _, ev := range c.calendar() {
			fmt.Fprintf(&b, "OnCalendar=%s\n", ev)
		}
	}
	// respawn fires on the minute; systemd's default accuracy is a minute.
	fmt.Fprintf(&b, "AccuracySec=1s\n")
	return b.String(), nil
}

// probeKind names the kind of a probe, "" for a memory-only health block.
func probeKind(p *config.Probe) string {
	switch {
	case p.Exec != nil:
		return "exec"
	case p.HTTP != "":
		return "http"
	case p.TCP != "":
		return "tcp"
	case p.Log != nil:
		return "log"
	case p.Notify:
		return "notify"
	}
	return ""
}

// seconds writes a duration in one unit, as systemd, compose and Go all
// read it: "0", "90s", "1500ms" (Go's "1m30s" is not systemd's syntax).
func seconds(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	case d%time.Millisecond == 0:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return fmt.Sprintf("%dus", d/time.Microsecond)
}

func rlimitValue(v uint64) string {
	if v == config.Unlimited || v == math.MaxUint64 {
		return "infinity"
	}
	return fmt.Sprint(v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// systemdEnv quotes an Environment= assignment, where '$' means itself.
func systemdEnv(kv string) string { return quoteWord(systemdSpecifiers(kv)) }

// quoteWord double-quotes a value when it holds anything systemd would
// split or unescape.
func quoteWord(w string) string {
	if w != "" && !strings.ContainsAny(w, " \t\"'\\;") {
		return w
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(w) + `"`
}

// systemdSpecifiers doubles '%', which systemd expands (specifiers) in
// every unit value; '$' is expanded on Exec lines only.
func systemdSpecifiers(s string) string { return strings.ReplaceAll(s, "%", "%%") }
