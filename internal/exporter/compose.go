package exporter

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/respawn-sh/respawn/internal/config"
)

// composeService is one service of a compose file, keys in the order the
// file shows them.
type composeService struct {
	Image           string                   `yaml:"image"`
	Command         []string                 `yaml:"command,omitempty"`
	WorkingDir      string                   `yaml:"working_dir,omitempty"`
	Environment     map[string]string        `yaml:"environment,omitempty"`
	User            string                   `yaml:"user,omitempty"`
	Profiles        []string                 `yaml:"profiles,omitempty"`
	DependsOn       map[string]composeDep    `yaml:"depends_on,omitempty"`
	Healthcheck     *composeHealthcheck      `yaml:"healthcheck,omitempty"`
	Restart         string                   `yaml:"restart"`
	StopSignal      string                   `yaml:"stop_signal"`
	StopGracePeriod string                   `yaml:"stop_grace_period"`
	MemLimit        int64                    `yaml:"mem_limit,omitempty"`
	Ulimits         map[string]composeUlimit `yaml:"ulimits,omitempty"`
	Logging         composeLogging           `yaml:"logging"`
	Deploy          *composeDeploy           `yaml:"deploy,omitempty"`
}

type composeDep struct {
	Condition string `yaml:"condition"`
}

type composeHealthcheck struct {
	Test     []string `yaml:"test"`
	Interval string   `yaml:"interval"`
	Timeout  string   `yaml:"timeout"`
	Retries  int      `yaml:"retries"`
}

type composeUlimit struct {
	Soft int64 `yaml:"soft"`
	Hard int64 `yaml:"hard"`
}

type composeLogging struct {
	Driver  string            `yaml:"driver"`
	Options map[string]string `yaml:"options"`
}

type composeDeploy struct {
	Replicas int `yaml:"replicas"`
}

// composeUlimits are the rlimits docker sets; "as" is not among them.
var composeUlimits = []string{"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
	"nofile", "nproc", "rtprio", "sigpending", "stack"}

// Compose writes one compose file, PROJECT.compose.yaml, with a service per
// respawn service; the instances of `replicas` are one service with
// deploy.replicas. Every service runs opt.Image.
func Compose(cfg *config.Config, opt Options) (Result, error) {
	if opt.Image == "" {
		return Result{}, errNoImage
	}
	var r Result
	services := &yaml.Node{Kind: yaml.MappingNode}
	for _, s := range cfg.Services {
		if s.Instance > 1 {
			continue // instance 1 stands for all
		}
		if s.Kind == config.KindExternal {
			r.notef(s, "kind", "external: compose runs containers it starts; it cannot adopt a process")
			continue
		}
		name := composeName(s)
		cs := composeOne(cfg, s, opt, &r)
		cs.DependsOn = composeDeps(cfg, s, &r)
		var v yaml.Node
		if err := v.Encode(cs); err != nil {
			return Result{}, fmt.Errorf("compose %s: %w", name, err)
		}
		escapeDollars(&v)
		services.Content = append(services.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, &v)
	}
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "services"}, services}}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# From %s by respawn export compose: `docker compose -f %s.compose.yaml up`.\n", cfg.Path, project(cfg))
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return Result{}, fmt.Errorf("compose: %w", err)
	}
	if err := enc.Close(); err != nil {
		return Result{}, fmt.Errorf("compose: %w", err)
	}
	r.Files = []File{{Name: project(cfg) + ".compose.yaml", Data: b.Bytes()}}
	return r, nil
}

// escapeDollars doubles every '$': compose expands $VAR and ${VAR} in all
// values, and respawn has expanded them already.
func escapeDollars(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode {
		n.Value = strings.ReplaceAll(n.Value, "$", "$$")
	}
	for _, c := range n.Content {
		escapeDollars(c)
	}
}

// composeName is the compose service a respawn service becomes: the name
// written in the file, for every instance of replicas.
func composeName(s *config.Service) string {
	if s.ReplicaOf != "" {
		return s.ReplicaOf
	}
	return s.Name
}

// composeOne converts one service (instance 1 of replicas).
func composeOne(cfg *config.Config, s *config.Service, opt Options, r *Result) composeService {
	cs := composeService{
		Image:           opt.Image,
		Command:         s.Command,
		WorkingDir:      s.Cwd,
		StopSignal:      "SIG" + s.Stop.Signal,
		StopGracePeriod: seconds(s.Stop.Timeout),
		Logging: composeLogging{Driver: "json-file", Options: map[string]string{
			"max-size": fmt.Sprint(s.Logs.MaxSize), "max-file": fmt.Sprint(s.Logs.MaxFiles),
		}},
	}
	for _, kv := range s.Env {
		k, v := splitEnv(kv)
		if s.ReplicaOf != "" && k == "RESPAWN_INSTANCE" {
			continue
		}
		if cs.Environment == nil {
			cs.Environment = map[string]string{}
		}
		cs.Environment[k] = v
	}
	if s.User != "" {
		cs.User = s.User
		if s.Group != "" {
			cs.User += ":" + s.Group
		}
	}
	if s.ReplicaOf != "" {
		n := 0
		for _, o := range cfg.Services {
			if o.ReplicaOf == s.ReplicaOf {
				n++
			}
		}
		cs.Deploy = &composeDeploy{Replicas: n}
		r.notef(s, "replicas", "compose gives every replica the same command, cwd and env, those of %s without RESPAWN_INSTANCE", s.Name)
	}
	switch {
	case s.Schedule != nil:
		cs.Profiles = []string{"scheduled"}
		r.notef(s, "schedule", "compose has no scheduler: the service is in profile scheduled, for `docker compose run %s` from cron or a timer", composeName(s))
	case !s.Autostart:
		cs.Profiles = []string{"manual"}
	}
	composeRestart(s, &cs, r)
	composeProbes(s, &cs, r)
	if s.Kind == config.KindForking {
		r.notef(s, "kind", "forking: a container ends when its first process does: the command must stay in the foreground (pidfile %s is not read)", s.Pidfile)
	}
	if s.Stop.Command != nil {
		r.notef(s, "stop.command", "compose stops a container with a signal only (stop_signal %s)", cs.StopSignal)
	}
	for _, name := range sortedKeys(s.Rlimits) {
		l := s.Rlimits[name]
		if !slices.Contains(composeUlimits, name) {
			r.notef(s, "rlimits."+name, "docker sets no %s limit", name)
			continue
		}
		if cs.Ulimits == nil {
			cs.Ulimits = map[string]composeUlimit{}
		}
		cs.Ulimits[name] = composeUlimit{Soft: ulimitValue(l.Soft), Hard: ulimitValue(l.Hard)}
	}
	noteSockets(s, r, "compose", "the program must bind it itself (and publish the port)")
	if s.Umask != nil {
		r.notef(s, "umask", "compose has no umask: the image's command must set %04o itself", *s.Umask)
	}
	if s.ServiceGroup != "" {
		r.notef(s, "group", "compose has no service groups")
	}
	return cs
}

func ulimitValue(v uint64) int64 {
	if v == config.Unlimited {
		return -1
	}
	return int64(v)
}

func composeRestart(s *config.Service, cs *composeService, r *Result) {
	rs := s.Restart
	cs.Restart = map[config.RestartPolicy]string{config.RestartAlways: "always", config.RestartOnFailure: "on-failure", config.RestartNever: "no"}[rs.Policy]
	if rs.Policy == config.RestartNever {
		return
	}
	r.notef(s, "restart.backoff, restart.limit, restart.reset_after, restart.cooldown", "docker restarts with its own fixed backoff (100ms doubling, reset after 10s up) and no start limit")
	if !slices.Equal(rs.SuccessCodes, []int{0}) {
		r.notef(s, "restart.success_codes", "docker's on-failure counts only exit 0 as success")
	}
}

// composeCheck is the probe that becomes the healthcheck, and which block
// it is from: the readiness probe, else the health probe, if a command in
// the container can run it (not log, not notify).
func composeCheck(s *config.Service) (*config.Probe, string) {
	for _, c := range []struct {
		p    *config.Probe
		from string
	}{{s.Ready, "ready"}, {s.Health, "health"}} {
		if c.p == nil {
			continue
		}
		if k := probeKind(c.p); k == "exec" || k == "http" || k == "tcp" {
			return c.p, c.from
		}
	}
	return nil, ""
}

// composeProbes writes the healthcheck and the memory limit.
func composeProbes(s *config.Service, cs *composeService, r *Result) {
	p, from := composeCheck(s)
	if s.Ready != nil && from != "ready" {
		r.notef(s, "ready."+probeKind(s.Ready), "a healthcheck runs a command in the container; it cannot read the output or sd_notify")
	}
	if s.Health != nil {
		if s.Health.MemoryMax > 0 {
			cs.MemLimit = s.Health.MemoryMax
		}
		if k := probeKind(s.Health); k != "" {
			switch {
			case k == "notify":
				r.notef(s, "health.notify", "a healthcheck cannot receive sd_notify watchdog pings")
			case from == "ready":
				r.notef(s, "health."+k, "compose has one healthcheck, the readiness probe's, and does not restart an unhealthy container")
			default:
				r.notef(s, "health."+k, "the healthcheck marks the container unhealthy; compose does not restart it")
			}
		}
	}
	if p == nil {
		return
	}
	var test []string
	switch probeKind(p) {
	case "exec":
		test = append([]string{"CMD"}, p.Exec...)
	case "http":
		test = []string{"CMD", "curl", "-fsS", "-o", "/dev/null", p.HTTP}
	case "tcp":
		test = []string{"CMD", "nc", "-z", tcpHost(p.TCP), tcpPort(p.TCP)}
	}
	retries := p.Failures
	if from == "ready" {
		// As many tries as fit in the deadline: unhealthy once it passed.
		retries = max(1, int(p.Deadline/p.Interval))
	}
	cs.Healthcheck = &composeHealthcheck{Test: test, Interval: seconds(p.Interval), Timeout: seconds(p.Timeout), Retries: retries}
}

func tcpHost(hostport string) string {
	h, _, _ := net.SplitHostPort(hostport)
	if h == "" {
		return "127.0.0.1"
	}
	return h
}

func tcpPort(hostport string) string {
	_, p, _ := net.SplitHostPort(hostport)
	return p
}

// composeDeps maps depends_on: ready waits for the dependency's
// healthcheck when its readiness probe is one.
func composeDeps(cfg *config.Config, s *config.Service, r *Result) map[string]composeDep {
	out := map[string]composeDep{}
	for _, d := range s.DependsOn {
		dep := cfg.Service(d.Name)
		name := composeName(dep)
		if dep.Kind == config.KindExternal {
			r.notef(s, "depends_on."+d.Name, "%s is kind: external, which compose does not run", d.Name)
			continue
		}
		cond := "service_started"
		switch d.Condition {
		case config.CondCompleted:
			cond = "service_completed_successfully"
		case config.CondReady:
			if _, from := composeCheck(dep); from == "ready" {
				cond = "service_healthy"
			} else if dep.Ready != nil {
				r.notef(s, "depends_on."+d.Name, "condition ready: %s's ready.%s is no healthcheck; %s waits for it to start", d.Name, probeKind(dep.Ready), composeName(s))
			}
		}
		if d.Restart {
			r.notef(s, "depends_on."+d.Name+".restart", "not written: docker-compose 1 refuses it (compose 2.17 and later read restart: true)")
		}
		out[name] = composeDep{Condition: cond}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
