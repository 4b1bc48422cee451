package exporter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/lazy"
)

// The kubernetes objects, as the API reads them: only the fields the export
// writes, in the order a person reads them.
type (
	k8sObject struct {
		APIVersion string      `json:"apiVersion"`
		Kind       string      `json:"kind"`
		Metadata   k8sMetadata `json:"metadata"`
		Spec       any         `json:"spec"`
	}
	k8sMetadata struct {
		Name   string            `json:"name,omitempty"`
		Labels map[string]string `json:"labels,omitempty"`
	}
	k8sDeploymentSpec struct {
		Replicas int            `json:"replicas"`
		Selector k8sSelector    `json:"selector"`
		Template k8sPodTemplate `json:"template"`
	}
	k8sSelector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	}
	k8sJobSpec struct {
		Suspend      bool           `json:"suspend,omitempty"`
		BackoffLimit *int           `json:"backoffLimit,omitempty"`
		Template     k8sPodTemplate `json:"template"`
	}
	k8sCronJobSpec struct {
		Schedule          string     `json:"schedule"`
		ConcurrencyPolicy string     `json:"concurrencyPolicy"`
		Suspend           bool       `json:"suspend,omitempty"`
		JobTemplate       k8sJobTmpl `json:"jobTemplate"`
	}
	k8sJobTmpl struct {
		Spec k8sJobSpec `json:"spec"`
	}
	k8sPodTemplate struct {
		Metadata k8sMetadata `json:"metadata"`
		Spec     k8sPodSpec  `json:"spec"`
	}
	k8sPodSpec struct {
		RestartPolicy                 string          `json:"restartPolicy"`
		TerminationGracePeriodSeconds int             `json:"terminationGracePeriodSeconds"`
		SecurityContext               *k8sPodSecurity `json:"securityContext,omitempty"`
		Containers                    []k8sContainer  `json:"containers"`
	}
	k8sPodSecurity struct {
		RunAsUser  *int64 `json:"runAsUser,omitempty"`
		RunAsGroup *int64 `json:"runAsGroup,omitempty"`
	}
	k8sContainer struct {
		Name           string        `json:"name"`
		Image          string        `json:"image"`
		Command        []string      `json:"command"`
		Args           []string      `json:"args,omitempty"`
		WorkingDir     string        `json:"workingDir,omitempty"`
		Env            []k8sEnv      `json:"env,omitempty"`
		StartupProbe   *k8sProbe     `json:"startupProbe,omitempty"`
		ReadinessProbe *k8sProbe     `json:"readinessProbe,omitempty"`
		LivenessProbe  *k8sProbe     `json:"livenessProbe,omitempty"`
		Lifecycle      *k8sLifecycle `json:"lifecycle,omitempty"`
		Resources      *k8sResources `json:"resources,omitempty"`
	}
	k8sEnv struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	k8sProbe struct {
		Exec             *k8sExec    `json:"exec,omitempty"`
		HTTPGet          *k8sHTTPGet `json:"httpGet,omitempty"`
		TCPSocket        *k8sTCP     `json:"tcpSocket,omitempty"`
		PeriodSeconds    int         `json:"periodSeconds"`
		TimeoutSeconds   int         `json:"timeoutSeconds"`
		FailureThreshold int         `json:"failureThreshold"`
	}
	k8sExec struct {
		Command []string `json:"command"`
	}
	k8sHTTPGet struct {
		Path   string `json:"path"`
		Port   int    `json:"port"`
		Scheme string `json:"scheme"`
	}
	k8sTCP struct {
		Port int `json:"port"`
	}
	k8sLifecycle struct {
		PreStop k8sHandler `json:"preStop"`
	}
	k8sHandler struct {
		Exec k8sExec `json:"exec"`
	}
	k8sResources struct {
		Limits map[string]string `json:"limits"`
	}
	k8sList struct {
		APIVersion string      `json:"apiVersion"`
		Kind       string      `json:"kind"`
		Items      []k8sObject `json:"items"`
	}
)

// Kubernetes writes PROJECT.k8s.yaml (or .json with opt.JSON): a
// Deployment per long-running service, a Job per oneshot, a CronJob per
// scheduled one, each with one container running opt.Image. Dependencies
// are not carried over: kubernetes starts everything at once and a
// service waits for its dependencies by retrying.
func Kubernetes(cfg *config.Config, opt Options) (Result, error) {
	if opt.Image == "" {
		return Result{}, errNoImage
	}
	var r Result
	var objs []k8sObject
	for _, s := range cfg.Services {
		if s.Instance > 1 {
			continue // instance 1 stands for all
		}
		if s.Kind == config.KindExternal {
			r.notef(s, "kind", "external: kubernetes runs the containers it starts; it cannot adopt a process")
			continue
		}
		obj, err := k8sOne(cfg, s, opt, &r)
		if err != nil {
			return Result{}, err
		}
		objs = append(objs, obj)
	}
	name := project(cfg) + ".k8s"
	if opt.JSON {
		data, err := json.MarshalIndent(k8sList{APIVersion: "v1", Kind: "List", Items: objs}, "", "  ")
		if err != nil {
			return Result{}, fmt.Errorf("kubernetes: %w", err)
		}
		r.Files = []File{{Name: name + ".json", Data: append(data, '\n')}}
		return r, nil
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# From %s by respawn export kubernetes: `kubectl apply -f %s.yaml`.\n", cfg.Path, name)
	for i, o := range objs {
		if i > 0 {
			b.WriteString("---\n")
		}
		if err := writeYAML(&b, o); err != nil {
			return Result{}, fmt.Errorf("kubernetes %s: %w", o.Metadata.Name, err)
		}
	}
	r.Files = []File{{Name: name + ".yaml", Data: b.Bytes()}}
	return r, nil
}

// k8sName makes a service name a kubernetes object name: lower case, '_'
// as '-' (a respawn name may hold both, an object name neither).
func k8sName(s *config.Service, r *Result) string {
	name := composeName(s)
	out := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	if out != name {
		r.notef(s, "name", "kubernetes names are lower case without '_': %s is %s there", name, out)
	}
	return out
}

// k8sLabelUnsafe is what a DNS label (a container name, a nomad service
// name) cannot hold: anything but lower-case letters, digits and '-'.
var k8sLabelUnsafe = &lazy.Value[*regexp.Regexp]{Build: func() *regexp.Regexp { return regexp.MustCompile(`[^a-z0-9-]`) }}

func k8sOne(cfg *config.Config, s *config.Service, opt Options, r *Result) (k8sObject, error) {
	name := k8sName(s, r)
	labels := map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": project(cfg)}
	c := k8sContainer{
		Name:       strings.Trim(k8sLabelUnsafe.Get().ReplaceAllString(name, "-"), "-"),
		Image:      opt.Image,
		Command:    k8sEscape(s.Command[:1]),
		Args:       k8sEscape(s.Command[1:]),
		WorkingDir: s.Cwd,
	}
	for _, kv := range s.Env {
		k, v := splitEnv(kv)
		if s.ReplicaOf != "" && k == "RESPAWN_INSTANCE" {
			continue
		}
		c.Env = append(c.Env, k8sEnv{Name: k, Value: k8sEscape([]string{v})[0]})
	}
	if s.Stop.Command != nil {
		c.Lifecycle = &k8sLifecycle{PreStop: k8sHandler{Exec: k8sExec{Command: s.Stop.Command}}}
	}
	if s.Stop.Signal != "TERM" {
		r.notef(s, "stop.signal", "kubernetes stops a container with SIGTERM (or the image's STOPSIGNAL), not SIG%s", s.Stop.Signal)
	}
	if s.Health != nil && s.Health.MemoryMax > 0 {
		c.Resources = &k8sResources{Limits: map[string]string{"memory": strconv.FormatInt(s.Health.MemoryMax, 10)}}
	}
	k8sProbes(s, &c, r)
	pod := k8sPodSpec{
		TerminationGracePeriodSeconds: ceilSeconds(s.Stop.Timeout),
		SecurityContext:               k8sSecurity(s, r),
		Containers:                    []k8sContainer{c},
	}
	k8sLosses(s, r)
	tmpl := k8sPodTemplate{Metadata: k8sMetadata{Labels: labels}, Spec: pod}
	meta := k8sMetadata{Name: name, Labels: labels}

	if s.Kind != config.KindOneshot {
		tmpl.Spec.RestartPolicy = "Always"
		if s.Restart.Policy != config.RestartAlways {
			r.notef(s, "restart.policy", "a Deployment's pod restarts always, not %s", s.Restart.Policy)
		}
		replicas := 1
		if s.ReplicaOf != "" {
			replicas = 0
			for _, o := range cfg.Services {
				if o.ReplicaOf == s.ReplicaOf {
					replicas++
				}
			}
			r.notef(s, "replicas", "every pod gets the same command, cwd and env, those of %s without RESPAWN_INSTANCE", s.Name)
		}
		if !s.Autostart {
			replicas = 0 // scale it up to start it
		}
		spec := k8sDeploymentSpec{Replicas: replicas, Selector: k8sSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": name}}, Template: tmpl}
		return k8sObject{APIVersion: "apps/v1", Kind: "Deployment", Metadata: meta, Spec: spec}, nil
	}

	switch s.Restart.Policy {
	case config.RestartNever:
		tmpl.Spec.RestartPolicy = "Never"
	case config.RestartAlways:
		r.notef(s, "restart.policy", "a Job does not run again after a success; OnFailure instead")
		fallthrough
	default:
		tmpl.Spec.RestartPolicy = "OnFailure"
	}
	job := k8sJobSpec{Template: tmpl}
	if b := s.Restart.Limit.Burst; b > 0 {
		job.BackoffLimit = &b
	} else {
		r.notef(s, "restart.limit", "burst 0 (no limit): a Job gives up after backoffLimit, 6 by default")
	}
	if s.Schedule == nil {
		// A Job runs when created: one respawn would not start waits, suspended.
		job.Suspend = !s.Autostart
		return k8sObject{APIVersion: "batch/v1", Kind: "Job", Metadata: meta, Spec: job}, nil
	}
	sched, err := numericSchedule(s, r)
	if err != nil {
		return k8sObject{}, err
	}
	if s.Autostart {
		r.notef(s, "autostart", "a CronJob runs at its times only, not once when created")
	}
	r.notef(s, "schedule", "a CronJob's times are in the controller's time zone (UTC unless spec.timeZone is set), respawn's in the host's")
	spec := k8sCronJobSpec{Schedule: sched, ConcurrencyPolicy: "Forbid", JobTemplate: k8sJobTmpl{Spec: job}}
	return k8sObject{APIVersion: "batch/v1", Kind: "CronJob", Metadata: meta, Spec: spec}, nil
}

// k8sEscape doubles the '$' of "$(": kubernetes expands $(VAR) in
// command, args and env values, and respawn has expanded them already.
func k8sEscape(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = strings.ReplaceAll(w, "$(", "$$(")
	}
	return out
}

func k8sSecurity(s *config.Service, r *Result) *k8sPodSecurity {
	if s.User == "" {
		return nil
	}
	var sc k8sPodSecurity
	uid, err := strconv.ParseInt(s.User, 10, 64)
	if err != nil {
		r.notef(s, "user", "kubernetes takes numeric ids only (runAsUser): %q is the image's to resolve", s.User)
		return nil
	}
	sc.RunAsUser = &uid
	if s.Group != "" {
		gid, err := strconv.ParseInt(s.Group, 10, 64)
		if err != nil {
			r.notef(s, "user", "kubernetes takes numeric ids only (runAsGroup): group %q is dropped", s.Group)
		} else {
			sc.RunAsGroup = &gid
		}
	}
	return &sc
}

// k8sLosses notes the keys no pod spec carries.
func k8sLosses(s *config.Service, r *Result) {
	for _, d := range s.DependsOn {
		key := "depends_on." + d.Name
		if d.Restart {
			key += ", " + key + ".restart"
		}
		r.notef(s, key, "kubernetes starts every pod at once: %s must retry until %s is %s", s.Name, d.Name, d.Condition)
	}
	if s.Kind == config.KindForking {
		r.notef(s, "kind", "forking: a container ends when its first process does, so the command must stay in the foreground (pidfile %s is not read)", s.Pidfile)
	}
	if s.Restart.Policy != config.RestartNever {
		r.notef(s, "restart.backoff, restart.reset_after, restart.cooldown", "the kubelet's own backoff: 10s doubling to 5m, reset after 10m up")
	}
	if s.Kind != config.KindOneshot && s.Restart.Limit.Burst > 0 {
		r.notef(s, "restart.limit", "a Deployment's pod is restarted without limit")
	}
	if len(s.Restart.SuccessCodes) != 1 || s.Restart.SuccessCodes[0] != 0 {
		r.notef(s, "restart.success_codes", "kubernetes counts only exit 0 as success")
	}
	noteSockets(s, r, "kubernetes", "the program must bind it itself, behind a Service")
	if s.Umask != nil {
		r.notef(s, "umask", "kubernetes has no umask: the command must set %04o itself", *s.Umask)
	}
	for _, name := range sortedKeys(s.Rlimits) {
		r.notef(s, "rlimits."+name, "kubernetes sets no rlimits: the node's apply")
	}
	if s.ServiceGroup != "" {
		r.notef(s, "group", "kubernetes has no service groups; the label app.kubernetes.io/part-of names the project")
	}
	r.notef(s, "logs", "the kubelet rotates container logs by its own settings, not max_size/max_files")
}

// k8sProbes maps ready to a startup probe (the deadline: a pod not ready
// in time is restarted, as respawn restarts it) and a readiness probe, and
// health to a liveness probe.
func k8sProbes(s *config.Service, c *k8sContainer, r *Result) {
	if p := s.Ready; p != nil {
		if s.Kind == config.KindOneshot {
			r.notef(s, "ready."+probeKind(p), "a Job's container takes no probes")
		} else if h := k8sHandlerOf(s, "ready", p, r); h != nil {
			startup := *h
			startup.FailureThreshold = max(1, int(math.Ceil(float64(p.Deadline)/float64(time.Duration(h.PeriodSeconds)*time.Second))))
			c.StartupProbe = &startup
			ready := *h
			ready.FailureThreshold = 1
			c.ReadinessProbe = &ready
		}
	}
	if p := s.Health; p != nil && probeKind(p) != "" {
		if h := k8sHandlerOf(s, "health", p, r); h != nil {
			h.FailureThreshold = p.Failures
			c.LivenessProbe = h
		}
	}
}

// k8sHandlerOf converts an exec, http or tcp probe; nil (noted) for others.
func k8sHandlerOf(s *config.Service, block string, p *config.Probe, r *Result) *k8sProbe {
	kind := probeKind(p)
	out := &k8sProbe{PeriodSeconds: ceilSeconds(p.Interval), TimeoutSeconds: ceilSeconds(p.Timeout)}
	if p.Interval%time.Second != 0 || p.Timeout%time.Second != 0 {
		r.notef(s, block+".interval, "+block+".timeout", "kubernetes counts whole seconds: %s and %s are rounded up to %ds and %ds",
			seconds(p.Interval), seconds(p.Timeout), out.PeriodSeconds, out.TimeoutSeconds)
	}
	switch kind {
	case "exec":
		out.Exec = &k8sExec{Command: p.Exec}
	case "http":
		u, err := url.Parse(p.HTTP)
		if err != nil {
			r.notef(s, block+".http", "%q is not a URL kubernetes can probe", p.HTTP)
			return nil
		}
		port := map[string]int{"http": 80, "https": 443}[u.Scheme]
		if u.Port() != "" {
			port, _ = strconv.Atoi(u.Port())
		}
		out.HTTPGet = &k8sHTTPGet{Path: u.RequestURI(), Port: port, Scheme: strings.ToUpper(u.Scheme)}
	case "tcp":
		_, ps, _ := net.SplitHostPort(p.TCP)
		port, err := strconv.Atoi(ps)
		if err != nil {
			r.notef(s, block+".tcp", "port %q is a service name; kubernetes reads only the container's named ports", ps)
			return nil
		}
		out.TCPSocket = &k8sTCP{Port: port}
	default:
		r.notef(s, block+"."+kind, "kubernetes probes with exec, httpGet or tcpSocket only")
		return nil
	}
	return out
}

// ceilSeconds is a duration in whole seconds, rounded up: kubernetes'
// unit, where 0 would mean the default.
func ceilSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
