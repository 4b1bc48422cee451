package exporter

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// decodeNomad decodes each job strictly (an unknown field is an error)
// into the upstream API type, by file name.
func decodeNomad(t *testing.T, r Result) map[string]*api.Job {
	t.Helper()
	jobs := map[string]*api.Job{}
	for _, f := range r.Files {
		var file struct{ Job *api.Job }
		dec := json.NewDecoder(bytes.NewReader(f.Data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&file); err != nil {
			t.Fatalf("%s: %v\n%s", f.Name, err, f.Data)
		}
		jobs[f.Name] = file.Job
	}
	return jobs
}

func group(t *testing.T, j *api.Job, name string) *api.TaskGroup {
	t.Helper()
	for _, g := range j.TaskGroups {
		if *g.Name == name {
			return g
		}
	}
	t.Fatalf("job %s has no group %s", *j.ID, name)
	return nil
}

func TestNomadWebapp(t *testing.T) {
	t.Parallel()
	r, err := Nomad(load(t, webapp), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	jobs := decodeNomad(t, r)
	if len(jobs) != 1 {
		t.Fatalf("files %v, want webapp.nomad.json alone", jobs)
	}
	j := jobs["webapp.nomad.json"]
	expect(t, "type", *j.Type, "service")
	var names []string
	for _, g := range j.TaskGroups {
		names = append(names, *g.Name)
	}
	expect(t, "groups", strings.Join(names, " "), "db api worker")

	g := group(t, j, "api")
	expect(t, "api restart attempts", *g.RestartPolicy.Attempts, 10)
	expect(t, "api restart interval", *g.RestartPolicy.Interval, 5*time.Minute)
	expect(t, "api restart delay", *g.RestartPolicy.Delay, 500*time.Millisecond)
	expect(t, "api restart mode", *g.RestartPolicy.Mode, "delay")
	expect(t, "api tasks", len(g.Tasks), 2)
	mig, main := g.Tasks[0], g.Tasks[1]
	expect(t, "migrate lifecycle", *mig.Lifecycle, api.TaskLifecycle{Hook: "prestart"})
	expect(t, "api driver", main.Driver, "raw_exec")
	expect(t, "api command", main.Config["command"], "/bin/sh")
	examples, _ := filepath.Abs("../../examples")
	goBin, _ := exec.LookPath("go")
	expect(t, "api args", main.Config["args"], []any{"-c", `cd "$0" && exec "$@"`, examples, goBin, "run", "./demo/web", "-listen", "127.0.0.1:8090"})
	expect(t, "api env", main.Env, map[string]string{"GREETING": "hello from the api"})
	expect(t, "api kill timeout", *main.KillTimeout, 5*time.Second)
	expect(t, "api kill signal", main.KillSignal, "SIGTERM")
	svc := main.Services[0]
	expect(t, "api checks", len(svc.Checks), 2)
	expect(t, "api ready check", svc.Checks[0].Type+" "+svc.Checks[0].Path, "http /")
	expect(t, "api check restart", svc.CheckRestart.Limit, 3)
	expect(t, "api port", g.Networks[0].ReservedPorts[0].Value, 8090)
	expect(t, "api port label", svc.PortLabel, g.Networks[0].ReservedPorts[0].Label)
	expect(t, "worker count", *group(t, j, "worker").Count, 2)
	noted(t, r, "migrate", "depends_on.db")
	noted(t, r, "api", "depends_on.db")
	noted(t, r, "worker.1", "replicas")
}

func TestNomadReplicatedOneshotIsOnePrestartTask(t *testing.T) {
	t.Parallel()
	r, err := Nomad(loadText(t, `version: 1
services:
  m: {kind: oneshot, command: [sleep, "1"], replicas: 2}
  s: {command: [sleep, "1"], depends_on: {m: completed}}
`), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	j := decodeNomad(t, r)["app.nomad.json"]
	expect(t, "groups", len(j.TaskGroups), 1)
	var tasks []string
	for _, task := range j.TaskGroups[0].Tasks {
		tasks = append(tasks, task.Name)
	}
	expect(t, "tasks", strings.Join(tasks, " "), "m s")
}

func TestNomadEveryFeature(t *testing.T) {
	t.Parallel()
	r, err := Nomad(load(t, full), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	jobs := decodeNomad(t, r)
	var files []string
	for _, f := range r.Files {
		files = append(files, f.Name)
	}
	expect(t, "files", strings.Join(files, " "), "full.nomad.json full-nightly.nomad.json full-poll.nomad.json")
	j := jobs["full.nomad.json"]
	db := group(t, j, "db").Tasks[0]
	expect(t, "db memory", *db.Resources.MemoryMB, 256)
	expect(t, "db kill signal", db.KillSignal, "SIGINT")
	expect(t, "db kill timeout", *db.KillTimeout, 20*time.Second)
	expect(t, "db check", db.Services[0].Checks[0].Type, "tcp")
	expect(t, "tailer count", *group(t, j, "tailer").Count, 0)
	expect(t, "worker count", *group(t, j, "worker").Count, 3)
	expect(t, "api prestart", group(t, j, "api").Tasks[0].Name, "migrate")
	nightly := jobs["full-nightly.nomad.json"]
	expect(t, "nightly type", *nightly.Type, "batch")
	expect(t, "nightly cron", *nightly.Periodic.Spec, "30 3 1,15 * 1,2,3,4,5")
	expect(t, "nightly overlap", *nightly.Periodic.ProhibitOverlap, true)
	expect(t, "poll cron", *jobs["full-poll.nomad.json"].Periodic.Spec, "*/5 * * * *")
	for _, g := range j.TaskGroups {
		if *g.Name == "nginx" {
			t.Error("an external service became a group")
		}
	}
	noted(t, r, "nginx", "kind")
	noted(t, r, "legacy", "kind")
	noted(t, r, "legacy", "stop.command")
	noted(t, r, "db", "health.exec")
	noted(t, r, "tailer", "ready.log")
	noted(t, r, "api", "user")
	noted(t, r, "api", "umask")
	noted(t, r, "api", "env")
	noted(t, r, "db", "rlimits.nofile")
	noted(t, r, "nightly", "schedule")
}
