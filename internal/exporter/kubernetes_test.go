package exporter

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// k8sObjects are the objects of an export, decoded strictly (an unknown
// field is an error) into the upstream API types.
type k8sObjects struct {
	deployments map[string]*appsv1.Deployment
	jobs        map[string]*batchv1.Job
	cronJobs    map[string]*batchv1.CronJob
	order       []string // KIND/NAME as written
}

func decodeK8s(t *testing.T, r Result, asJSON bool) k8sObjects {
	t.Helper()
	if len(r.Files) != 1 {
		t.Fatalf("%d files, want 1", len(r.Files))
	}
	var docs [][]byte
	if asJSON {
		var list struct {
			APIVersion string            `json:"apiVersion"`
			Kind       string            `json:"kind"`
			Items      []json.RawMessage `json:"items"`
		}
		dec := json.NewDecoder(bytes.NewReader(r.Files[0].Data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&list); err != nil {
			t.Fatal(err)
		}
		if list.APIVersion != "v1" || list.Kind != "List" {
			t.Errorf("list is %s %s", list.APIVersion, list.Kind)
		}
		for _, it := range list.Items {
			docs = append(docs, it)
		}
	} else {
		for d := range strings.SplitSeq(string(r.Files[0].Data), "\n---\n") {
			docs = append(docs, []byte(d))
		}
	}
	objs := k8sObjects{deployments: map[string]*appsv1.Deployment{}, jobs: map[string]*batchv1.Job{}, cronJobs: map[string]*batchv1.CronJob{}}
	for _, d := range docs {
		var head struct{ Kind string }
		if err := yaml.Unmarshal(d, &head); err != nil {
			t.Fatal(err)
		}
		var into interface{ GetName() string }
		switch head.Kind {
		case "Deployment":
			into = &appsv1.Deployment{}
		case "Job":
			into = &batchv1.Job{}
		case "CronJob":
			into = &batchv1.CronJob{}
		default:
			t.Fatalf("unexpected kind %q:\n%s", head.Kind, d)
		}
		if err := yaml.UnmarshalStrict(d, into); err != nil {
			t.Fatalf("%s: %v\n%s", head.Kind, err, d)
		}
		switch o := into.(type) {
		case *appsv1.Deployment:
			objs.deployments[o.Name] = o
		case *batchv1.Job:
			objs.jobs[o.Name] = o
		case *batchv1.CronJob:
			objs.cronJobs[o.Name] = o
		}
		objs.order = append(objs.order, head.Kind+"/"+into.GetName())
	}
	return objs
}

func TestKubernetesWebapp(t *testing.T) {
	t.Parallel()
	cfg := load(t, webapp)
	for _, asJSON := range []bool{false, true} {
		r, err := Kubernetes(cfg, Options{Image: "example/webapp:1", JSON: asJSON})
		if err != nil {
			t.Fatal(err)
		}
		o := decodeK8s(t, r, asJSON)
		want := "Deployment/db Job/migrate Deployment/api Deployment/worker"
		if got := strings.Join(o.order, " "); got != want {
			t.Errorf("objects %q, want %q", got, want)
		}
		api := o.deployments["api"]
		if api == nil {
			t.Fatal("no api Deployment")
		}
		c := api.Spec.Template.Spec.Containers[0]
		expect(t, "api image", c.Image, "example/webapp:1")
		expect(t, "api command", c.Command, []string{"go"})
		expect(t, "api args", c.Args, []string{"run", "./demo/web", "-listen", "127.0.0.1:8090"})
		expect(t, "api env", c.Env, []corev1.EnvVar{{Name: "GREETING", Value: "hello from the api"}})
		expect(t, "api readiness path", c.ReadinessProbe.HTTPGet.Path, "/")
		expect(t, "api readiness port", c.ReadinessProbe.HTTPGet.Port.IntValue(), 8090)
		expect(t, "api startup threshold", c.StartupProbe.FailureThreshold, int32(120))
		expect(t, "api liveness period", c.LivenessProbe.PeriodSeconds, int32(5))
		expect(t, "api liveness failures", c.LivenessProbe.FailureThreshold, int32(3))
		expect(t, "api grace", *api.Spec.Template.Spec.TerminationGracePeriodSeconds, int64(5))
		expect(t, "api selector", api.Spec.Selector.MatchLabels, map[string]string{"app.kubernetes.io/name": api.Spec.Template.Labels["app.kubernetes.io/name"]})
		expect(t, "db probe port", o.deployments["db"].Spec.Template.Spec.Containers[0].ReadinessProbe.TCPSocket.Port.IntValue(), 5439)
		expect(t, "worker replicas", *o.deployments["worker"].Spec.Replicas, int32(2))
		expect(t, "worker env", o.deployments["worker"].Spec.Template.Spec.Containers[0].Env, []corev1.EnvVar(nil))
		mig := o.jobs["migrate"]
		expect(t, "migrate restartPolicy", mig.Spec.Template.Spec.RestartPolicy, corev1.RestartPolicyOnFailure)
		expect(t, "migrate backoffLimit", *mig.Spec.BackoffLimit, int32(10))
		noted(t, r, "api", "depends_on.db")
		noted(t, r, "api", "depends_on.migrate")
		noted(t, r, "worker.1", "replicas")
	}
}

func TestKubernetesEveryFeature(t *testing.T) {
	t.Parallel()
	r, err := Kubernetes(load(t, full), Options{Image: "example/full"})
	if err != nil {
		t.Fatal(err)
	}
	o := decodeK8s(t, r, false)
	db := o.deployments["db"].Spec.Template.Spec
	expect(t, "db memory", db.Containers[0].Resources.Limits.Memory().Value(), int64(256<<20))
	expect(t, "db liveness", db.Containers[0].LivenessProbe.Exec.Command, []string{"true"})
	expect(t, "db liveness failures", db.Containers[0].LivenessProbe.FailureThreshold, int32(4))
	expect(t, "db startup threshold", db.Containers[0].StartupProbe.FailureThreshold, int32(15))
	expect(t, "db grace", *db.TerminationGracePeriodSeconds, int64(20))
	expect(t, "tailer replicas", *o.deployments["tailer"].Spec.Replicas, int32(0))
	expect(t, "worker replicas", *o.deployments["worker"].Spec.Replicas, int32(3))
	expect(t, "legacy preStop", o.deployments["legacy"].Spec.Template.Spec.Containers[0].Lifecycle.PreStop.Exec.Command, []string{"kill", "-TERM", "0"})
	nightly := o.cronJobs["nightly"]
	expect(t, "nightly schedule", nightly.Spec.Schedule, "30 3 1,15 * 1,2,3,4,5")
	expect(t, "nightly policy", nightly.Spec.ConcurrencyPolicy, batchv1.ForbidConcurrent)
	expect(t, "poll schedule", o.cronJobs["poll"].Spec.Schedule, "*/5 * * * *")
	if _, ok := o.jobs["migrate"]; !ok {
		t.Error("no migrate Job")
	}
	if _, ok := o.deployments["nginx"]; ok {
		t.Error("an external service became a Deployment")
	}
	// $(VAR) is kubernetes' expansion; respawn's is done.
	expect(t, "api env", o.deployments["api"].Spec.Template.Spec.Containers[0].Env[3], corev1.EnvVar{Name: "SHELLISH", Value: "$$(date) ${HOME}"})
	noted(t, r, "db", "stop.signal")
	noted(t, r, "db", "rlimits.nofile")
	noted(t, r, "api", "user")
	noted(t, r, "api", "umask")
	noted(t, r, "tailer", "ready.log")
	noted(t, r, "notifier", "ready.notify")
	noted(t, r, "legacy", "kind")
	noted(t, r, "nginx", "kind")
	noted(t, r, "nightly", "schedule")
}

func TestKubernetesNumericUser(t *testing.T) {
	t.Parallel()
	r, err := Kubernetes(loadText(t, "version: 1\nservices:\n  s: {command: [sleep, \"1\"], user: \"1000:1001\"}\n"), Options{Image: "x"})
	if err != nil {
		t.Fatal(err)
	}
	sc := decodeK8s(t, r, false).deployments["s"].Spec.Template.Spec.SecurityContext
	expect(t, "runAsUser", *sc.RunAsUser, int64(1000))
	expect(t, "runAsGroup", *sc.RunAsGroup, int64(1001))
}
