//go:build linux

package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/journal"
	"github.com/respawn-sh/respawn/internal/keeper"
)

const waitLimit = 20 * time.Second

// coreRun is a core running its lifecycle on its own goroutine.
type coreRun struct {
	c    *core
	fk   *fakeKeeper
	log  *logBuffer
	path string // the config file
	dir  string // the test's temp dir
	done chan error
}

// writeConfig writes a config whose state dir is under dir, with services
// given as YAML lines (indented two spaces under services:).
func writeConfig(t *testing.T, path, dir, services string) {
	t.Helper()
	body := fmt.Sprintf("version: 1\nsupervisor: {state_dir: %s}\nservices:\n%s", filepath.Join(dir, "state"), services)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// newTestCore builds a core for services with fk as its keeper; edit may
// change the options first.
func newTestCore(t *testing.T, fk *fakeKeeper, services string, edit func(*coreOptions)) (*coreRun, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "respawn.yaml")
	writeConfig(t, path, dir, services)
	cfg, err := config.Load(path, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	r := &coreRun{fk: fk, log: &logBuffer{}, path: path, dir: dir, done: make(chan error, 1)}
	opts := coreOptions{
		Config:     cfg,
		Logger:     r.log.logger(),
		Connect:    func() (keeperLink, error) { return fk, nil },
		Terms:      make(chan os.Signal, 1),
		Environ:    os.Environ(),
		KeeperWait: 200 * time.Millisecond,
	}
	if edit != nil {
		edit(&opts)
	}
	r.c, err = newCore(opts)
	return r, err
}

// startCore builds a core and runs it until it reports ready.
func startCore(t *testing.T, fk *fakeKeeper, services string, edit func(*coreOptions)) *coreRun {
	t.Helper()
	r, err := newTestCore(t, fk, services, edit)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer r.c.close()
		r.done <- r.c.run()
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			// Still running: a stop ends it.
			fk.control <- keeper.CtlStop
			r.wait(t)
		}
	})
	select {
	case <-fk.ready:
	case err := <-r.done:
		t.Fatalf("core ended before ready: %v\n%s", err, r.log)
	case <-time.After(waitLimit):
		t.Fatalf("no ready within %v\n%s", waitLimit, r.log)
	}
	return r
}

// wait returns what run returned.
func (r *coreRun) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(waitLimit):
		t.Fatalf("core still running after %v\n%s", waitLimit, r.log)
		return nil
	}
}

// status polls the supervisor until ok accepts the status of every service.
func (r *coreRun) waitStatus(t *testing.T, what string, ok func(map[string]api.Service) bool) map[string]api.Service {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		st, err := r.c.sup.Status(nil)
		if err != nil {
			t.Fatal(err)
		}
		by := map[string]api.Service{}
		for _, s := range st.Services {
			by[s.Name] = s
		}
		if ok(by) {
			return by
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %+v\n%s", what, waitLimit, by, r.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitLog polls the core's log until it holds s.
func (r *coreRun) waitLog(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(r.log.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("log has no %q within %v:\n%s", s, waitLimit, r.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func running(names ...string) func(map[string]api.Service) bool {
	return func(by map[string]api.Service) bool {
		for _, n := range names {
			if s := by[n]; s.State != "running" || s.Pid == 0 {
				return false
			}
		}
		return true
	}
}

// orderService appends its name to order when it is told to stop.
// orderService appends its name to order when it gets SIGTERM; it creates
// order.NAME once its trap is set (see waitTrapped).
func orderService(name, order, deps string) string {
	return fmt.Sprintf("  %s:\n    command: [/bin/sh, -c, 'trap \"echo %s >> %s; exit 0\" TERM; : > %s.%s; /bin/sleep 300 & wait']\n    stop: {timeout: 10s}\n%s",
		name, name, order, order, name, deps)
}

// waitTrapped waits until each orderService named has set its trap: a
// SIGTERM before that would end the shell without a word, so "running" is
// not enough.
func waitTrapped(t *testing.T, order string, names ...string) {
	t.Helper()
	end := time.Now().Add(waitLimit)
	for _, n := range names {
		for {
			if _, err := os.Stat(order + "." + n); err == nil {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("%s never set its trap", n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func TestCoreReadyThenStopInOrder(t *testing.T) {
	fk := newFakeKeeper(t)
	order := filepath.Join(t.TempDir(), "order")
	r := startCore(t, fk, orderService("db", order, "")+orderService("web", order, "    depends_on: [db]\n"), nil)
	r.waitStatus(t, "db and web running", running("db", "web"))
	waitTrapped(t, order, "db", "web")
	sock := filepath.Join(r.dir, "state", sockName)
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("control socket: %v", err)
	}

	fk.control <- keeper.CtlPing
	select {
	case <-fk.pongs:
	case <-time.After(waitLimit):
		t.Fatal("no pong")
	}

	fk.control <- keeper.CtlStop
	if err := r.wait(t); err != nil {
		t.Fatalf("run: %v\n%s", err, r.log)
	}
	select {
	case <-fk.stopping:
	default:
		t.Error("the keeper was not told the core is stopping")
	}
	select {
	case code := <-fk.bye:
		if code != 0 {
			t.Errorf("bye code %d, want 0", code)
		}
	default:
		t.Error("no bye sent")
	}
	b, err := os.ReadFile(order)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != "web\ndb\n" {
		t.Errorf("stop order %q, want web then db", got)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket left after stop: %v", err)
	}
}

func TestCoreReadyReportsSummary(t *testing.T) {
	fk := newFakeKeeper(t)
	r, err := newTestCore(t, fk, "  a:\n    command: [/bin/sleep, '300']\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() { defer r.c.close(); r.done <- r.c.run() }()
	select {
	case s := <-fk.ready:
		if !strings.HasPrefix(s, "1 services: ") {
			t.Errorf("ready status %q", s)
		}
	case <-time.After(waitLimit):
		t.Fatal("no ready")
	}
	r.c.requestShutdown() // as `respawn down` through the API does
	r.c.requestShutdown() // a second request while one is pending is dropped
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if code := <-fk.bye; code != 0 {
		t.Errorf("bye %d", code)
	}
	// The saved state reached the keeper before the core ended.
	if s, ok := fk.storedState("a"); !ok || s.Gen == 0 {
		t.Errorf("saved state of a: %+v, %v", s, ok)
	}
}

func TestCoreQuitLeavesServicesRunning(t *testing.T) {
	fk := newFakeKeeper(t)
	r := startCore(t, fk, "  a:\n    command: [/bin/sleep, '300']\n", nil)
	pid := r.waitStatus(t, "a running", running("a"))["a"].Pid

	fk.control <- keeper.CtlQuit
	if err := r.wait(t); err != nil {
		t.Fatalf("run: %v", err)
	}
	select {
	case <-fk.bye:
		t.Error("bye sent on a quit for an upgrade")
	case <-fk.stopping:
		t.Error("stopping sent on a quit for an upgrade")
	default:
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Errorf("service pid %d after quit: %v", pid, err)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "state", sockName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket left after quit: %v", err)
	}
}

func TestCoreFinishesAnInterruptedStop(t *testing.T) {
	fk := newFakeKeeper(t)
	fk.hello.Stopping = true
	r := startCore(t, fk, "  a:\n    command: [/bin/sleep, '300']\n", nil)
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if code := <-fk.bye; code != 0 {
		t.Errorf("bye %d", code)
	}
}

func TestCoreReload(t *testing.T) {
	fk := newFakeKeeper(t)
	a := "  a:\n    command: [/bin/sleep, '300']\n"
	r := startCore(t, fk, a, nil)
	pid := r.waitStatus(t, "a running", running("a"))["a"].Pid

	writeConfig(t, r.path, r.dir, a+"  b:\n    command: [/bin/sleep, '301']\n")
	fk.control <- keeper.CtlReload
	by := r.waitStatus(t, "b added and running", running("a", "b"))
	if by["a"].Pid != pid {
		t.Errorf("a restarted by a reload that did not change it: pid %d, was %d", by["a"].Pid, pid)
	}
	r.waitLog(t, "msg=reloaded")

	if err := os.WriteFile(r.path, []byte("version: 1\nservices: [not, a, map\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fk.control <- keeper.CtlReload
	r.waitLog(t, "reload failed")
	after := r.waitStatus(t, "status", func(map[string]api.Service) bool { return true })
	if len(after) != 2 || after["a"].Pid != by["a"].Pid || after["b"].Pid != by["b"].Pid {
		t.Errorf("a bad config changed the services: %+v, was %+v", after, by)
	}
	// Nobody waits for a SIGHUP's reload: its failure is also an event.
	b, err := os.ReadFile(filepath.Join(r.dir, "state", journal.FileName))
	if err != nil || !strings.Contains(string(b), `"reason":"reload failed (SIGHUP)"`) {
		t.Errorf("no journal event for the failed reload (%v):\n%s", err, b)
	}
}

func TestCoreKeeperConnectionLost(t *testing.T) {
	fk := newFakeKeeper(t)
	r := startCore(t, fk, "  a:\n    command: [/bin/sleep, '300']\n", nil)
	fk.Close()
	err := r.wait(t)
	if err == nil || err.Error() != "keeper connection lost" {
		t.Fatalf("run: %v, want keeper connection lost", err)
	}
	select {
	case <-fk.orphans:
		t.Error("orphans killed while the keeper is alive")
	default:
	}
}

func TestCoreKeeperDied(t *testing.T) {
	for _, how := range []string{"closed", "sigterm"} {
		t.Run(how, func(t *testing.T) {
			fk := newFakeKeeper(t)
			fk.hello.KeeperPid = os.Getppid() + 1_000_000 // not this process's parent: gone
			terms := make(chan os.Signal, 1)
			r := startCore(t, fk, "  a:\n    command: [/bin/sleep, '300']\n", func(o *coreOptions) { o.Terms = terms })
			if how == "closed" {
				fk.Close()
			} else {
				terms <- syscall.SIGTERM
			}
			err := r.wait(t)
			if err == nil || err.Error() != "keeper died" {
				t.Fatalf("run: %v, want keeper died", err)
			}
			select {
			case <-fk.orphans:
			default:
				t.Error("orphans not killed")
			}
		})
	}
}

func TestCoreIgnoresSIGTERMWhileTheKeeperLives(t *testing.T) {
	fk := newFakeKeeper(t)
	terms := make(chan os.Signal, 1)
	r := startCore(t, fk, "  a:\n    command: [/bin/sleep, '300']\n", func(o *coreOptions) { o.Terms = terms })
	terms <- syscall.SIGTERM
	r.waitLog(t, "SIGTERM to the core ignored")
	select {
	case err := <-r.done:
		t.Fatalf("core ended on SIGTERM: %v", err)
	default:
	}
	fk.control <- keeper.CtlStop
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
}

func TestCoreRecordsHowThePreviousCoreEnded(t *testing.T) {
	fk := newFakeKeeper(t)
	fk.hello.Previous = &keeper.CoreEnd{Pid: 42, Exit: "killed by signal 9", Reason: keeper.ReasonCrashed, Output: "panic: boom\n"}
	r := startCore(t, fk, "  a:\n    command: [/bin/sleep, '300']\n", nil)
	fk.drops <- keeper.LogDrops{Name: filepath.Join(r.dir, "state", "logs", "a.log"), Dropping: true}
	fk.drops <- keeper.LogDrops{Name: "", Dropping: false, Dropped: 7}
	fk.control <- keeper.CtlStop
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(r.dir, "state", "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	journal := string(b)
	for _, want := range []string{
		`"reason":"core crashed: killed by signal 9"`,
		`"message":"panic: boom"`,
		`"service":"a","reason":"log writes failing: lines are dropped"`,
		`the supervisor's log is written again; 7 lines dropped in all`,
	} {
		if !strings.Contains(journal, want) {
			t.Errorf("journal has no %s:\n%s", want, journal)
		}
	}
}

func TestCoreRestoresSavedStates(t *testing.T) {
	fk := newFakeKeeper(t)
	fk.saved = map[string]json.RawMessage{
		"a":     json.RawMessage(`{"state":"stopped","wanted":false,"gen":3}`),
		"b":     json.RawMessage(`not json`),
		"other": json.RawMessage(`{"state":"running"}`),
	}
	r := startCore(t, fk, "  a:\n    command: [/bin/sleep, '300']\n  b:\n    command: [/bin/sleep, '300']\n", nil)
	by := r.waitStatus(t, "b running", running("b"))
	if by["a"].Wanted != "down" || by["a"].Pid != 0 {
		t.Errorf("a, saved stopped, is %+v", by["a"])
	}
	r.waitLog(t, "saved state unreadable")
}

func TestNewCoreFails(t *testing.T) {
	fk := newFakeKeeper(t)
	if _, err := newTestCore(t, fk, "  a:\n    command: [/bin/sleep, '300']\n", func(o *coreOptions) {
		o.Connect = func() (keeperLink, error) { return nil, errors.New("no keeper") }
	}); err == nil || err.Error() != "no keeper" {
		t.Errorf("newCore without a keeper: %v", err)
	}
	if _, err := newTestCore(t, fk, "  a:\n    command: [/bin/sleep, '300']\n", func(o *coreOptions) {
		c := *o.Config
		c.Supervisor.StateDir = filepath.Join(t.TempDir(), "file")
		os.WriteFile(c.Supervisor.StateDir, nil, 0o600)
		o.Config = &c
	}); err == nil {
		t.Error("newCore with a file for a state dir succeeded")
	}
}

func TestRunCoreNeedsAKeeper(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "respawn.yaml")
	writeConfig(t, path, dir, "  a:\n    command: [/bin/sleep, '300']\n")
	cfg, err := config.Load(path, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(keeper.EnvSocket, "")
	t.Setenv(keeper.EnvStateDir, filepath.Join(dir, "held"))
	var log logBuffer
	err = RunCore(cfg, &log)
	if err == nil || !strings.Contains(err.Error(), "runs under a keeper") {
		t.Fatalf("RunCore: %v", err)
	}
	if !strings.Contains(log.String(), "keeping the held one") {
		t.Errorf("no warning about the held state dir:\n%s", log.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "held", keeper.CrashName)); err != nil {
		t.Errorf("crash output not in the held state dir: %v", err)
	}
}
