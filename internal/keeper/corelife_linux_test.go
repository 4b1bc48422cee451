package keeper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/proc"
)

// The core's lifecycle through real keepers and cores: a hung core, one
// that never becomes ready, cores that die during a stop, an upgrade and
// its rollback. Each core learns which of its scenario's cores it is from a
// counter in the test's directory (cores of a keeper run one at a time).

// Steps the lifecycle scenarios report.
const (
	stepLifeHello   = "life.hello"    // a later core's hello
	stepLifeService = "life.service"  // the pid of a service the first core started
	stepLifeTable   = "life.table"    // the pids in a later core's table
	stepLifeUpgrade = "life.upgraded" // the first core's upgrade request returned
	stepLifeRefused = "life.refused"  // an upgrade asked for during the stop
	stepLifeAnswer  = "life.answer"   // what the control socket answered while no core served it
)

func init() {
	coreScenarios["hung"] = coreHung
	coreScenarios["slow-start"] = coreSlowStart
	coreScenarios["never-ready"] = coreNeverReady
	coreScenarios["stop-crash"] = coreStopCrash
	coreScenarios["upgrade"] = coreUpgrade
	coreScenarios["rollback"] = coreUpgrade
	coreScenarios["upgrade-vanish"] = coreUpgrade
}

// coreNumber counts this core in: 1 for the first of the scenario.
func coreNumber(r *reporter, dir string) int {
	f, err := os.OpenFile(filepath.Join(dir, "cores"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		r.fail("count cores", err)
		return 0
	}
	defer f.Close()
	if _, err := f.Write([]byte{'.'}); err != nil {
		r.fail("count cores", err)
		return 0
	}
	fi, err := f.Stat()
	if err != nil {
		r.fail("count cores", err)
		return 0
	}
	return int(fi.Size())
}

// waitForever blocks until the keeper ends this core (bounded, so that a
// keeper that fails to leaves no helper behind).
func waitForever() int {
	time.Sleep(2 * helperDeadline)
	return 9
}

// reportHelloAndFinish is what the last core of a scenario does: report
// its hello, be ready, say bye.
func reportHelloAndFinish(r *reporter, cl *Client) int {
	r.note(stepLifeHello, cl.Hello())
	var pids []int
	for _, p := range cl.Table() {
		pids = append(pids, p.Pid())
	}
	r.note(stepLifeTable, pids)
	return finish(r, cl, 0)
}

// startService starts the scenario's service, reports its pid and says the
// core is ready.
func startService(r *reporter, cl *Client, spec proc.Spec, sink string) bool {
	p, err := cl.Spawn(spec, sink)
	if err != nil {
		r.fail("spawn", err)
		return false
	}
	r.note(stepLifeService, p.Pid())
	if err := cl.Ready("up"); err != nil {
		r.fail("ready", err)
	}
	return true
}

// coreHung: the first core is ready, then answers no ping; the keeper
// ends it with SIGABRT and the second finds why in its hello.
func coreHung(r *reporter, dir string) int {
	n := coreNumber(r, dir)
	cl := dialKeeper(r)
	if cl == nil {
		return 1
	}
	if n > 1 {
		return reportHelloAndFinish(r, cl)
	}
	if err := cl.Ready("up"); err != nil {
		r.fail("ready", err)
	}
	return waitForever() // never reads Control, so never pongs
}

// coreSlowStart: the first core is ready and crashes; the second never
// connects and is ended when its time to start is up; the third, after a
// backoff, finds why.
func coreSlowStart(r *reporter, dir string) int {
	switch coreNumber(r, dir) {
	case 1:
		cl := dialKeeper(r)
		if cl == nil {
			return 1
		}
		if err := cl.Ready("up"); err != nil {
			r.fail("ready", err)
		}
		flush(r, cl)
		return 2
	case 2:
		return waitForever()
	}
	// Until this core is ready, the keeper answers its control socket.
	r.note(stepLifeAnswer, askControlSocket(r, dir))
	cl := dialKeeper(r)
	if cl == nil {
		return 1
	}
	return reportHelloAndFinish(r, cl)
}

// askControlSocket asks the control socket for the status, as a command
// would, and returns the answer's status code and body.
func askControlSocket(r *reporter, dir string) string {
	c := &http.Client{Timeout: helperDeadline, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", filepath.Join(dir, "state", controlName))
		},
	}}
	resp, err := c.Get("http://respawn/v1/status")
	if err != nil {
		r.fail("ask the control socket", err)
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}

// coreNeverReady: the first core says why on stderr and exits before it
// is ready: the start fails.
func coreNeverReady(r *reporter, dir string) int {
	fmt.Fprintln(os.Stderr, "config: no such file")
	return 3
}

// coreStopCrash: the first core starts a service, is ready and asks the
// keeper to stop (SIGTERM, then SIGINT); it and every core after it die during
// the stop, until the keeper kills the services itself.
func coreStopCrash(r *reporter, dir string) int {
	n := coreNumber(r, dir)
	cl := dialKeeper(r)
	if cl == nil {
		return 1
	}
	if n > 1 {
		if !cl.Hello().Stopping {
			r.fail("hello", errors.New("a core after the stop began is not told to stop"))
		}
		if n == 2 {
			ctx, cancel := context.WithTimeout(context.Background(), helperDeadline)
			defer cancel()
			r.note(stepLifeRefused, fmt.Sprint(cl.Upgrade(ctx, "")))
		}
		flush(r, cl)
		return 1
	}
	if !startService(r, cl, shSpec(dir, "svc", "exec sleep 300"), "") {
		return 1
	}
	flush(r, cl)
	// Two signals: the same one twice may arrive as one.
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		if err := syscall.Kill(os.Getppid(), sig); err != nil {
			r.fail("signal keeper", err)
		}
	}
	deadline := time.After(helperDeadline)
	for {
		select {
		case c := <-cl.Control():
			if c == CtlStop {
				return 1 // dies instead of stopping
			}
			if c == CtlPing {
				_ = cl.Pong()
			}
		case <-deadline:
			r.fail("stop", errors.New("the keeper never asked to stop"))
			return 1
		}
	}
}

// coreUpgrade: the first core starts a service with a log and asks for an
// upgrade to the same binary, then quits when told; the upgraded image's
// first core finds the service. In the rollback scenario that core dies
// before it is ready, and the third core runs under the old image again.
func coreUpgrade(r *reporter, dir string) int {
	n := coreNumber(r, dir)
	if n == 2 && os.Getenv(scenarioEnv) == "rollback" {
		fmt.Fprintln(os.Stderr, "new core: cannot start")
		return 4
	}
	cl := dialKeeper(r)
	if cl == nil {
		return 1
	}
	if n > 1 {
		return reportHelloAndFinish(r, cl)
	}
	logPath := filepath.Join(dir, "state", LogsName, "svc.log")
	if err := cl.OpenSink("svc", logPath, logs.Options{}); err != nil {
		r.fail("open sink", err)
		return 1
	}
	if !startService(r, cl, shSpec(dir, "svc", "echo before; exec sleep 300"), "svc") {
		return 1
	}
	self, err := os.Executable()
	if err != nil {
		r.fail("executable", err)
		return 1
	}
	vanish := os.Getenv(scenarioEnv) == "upgrade-vanish"
	if vanish {
		// A copy that is gone by the time the keeper execs it.
		b, err := os.ReadFile(self)
		if err == nil {
			self = filepath.Join(dir, "respawn-new")
			err = os.WriteFile(self, b, 0o700)
		}
		if err != nil {
			r.fail("copy binary", err)
			return 1
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), helperDeadline)
	defer cancel()
	err = cl.Upgrade(ctx, self)
	r.note(stepLifeUpgrade, fmt.Sprint(err))
	if vanish {
		if err := os.Remove(self); err != nil {
			r.fail("remove binary", err)
		}
	}
	deadline := time.After(helperDeadline)
	for {
		select {
		case c := <-cl.Control():
			switch c {
			case CtlQuit:
				return 0
			case CtlPing:
				_ = cl.Pong()
			}
		case <-deadline:
			r.fail("upgrade", errors.New("the keeper never asked to quit"))
			return 1
		}
	}
}

// laterHello decodes the hello the last core of a scenario reported.
func laterHello(kr *keeperRun) Hello {
	kr.t.Helper()
	var h Hello
	kr.get(stepLifeHello, &h)
	return h
}

func TestKeeperEndsAHungCore(t *testing.T) {
	kr := runKeeper(t, "hung", coreTimeoutEnv+"=3s")
	kr.ended(0)
	h := laterHello(kr)
	if h.Previous == nil || !strings.HasPrefix(h.Previous.Reason, "hung: no answer for ") {
		t.Fatalf("previous core %+v, want one ended as hung", h.Previous)
	}
	// SIGABRT: the runtime dumps every goroutine and exits 2.
	if h.Previous.Exit != "exit status 2" || h.CoreRestarts != 1 || !strings.Contains(kr.stderr, "SIGABRT") {
		t.Errorf("previous core ended %q after %d restarts; want exit status 2 after 1, and its dump passed on", h.Previous.Exit, h.CoreRestarts)
	}
}

func TestKeeperEndsACoreThatDoesNotStartInTime(t *testing.T) {
	kr := runKeeper(t, "slow-start", coreTimeoutEnv+"=3s")
	kr.ended(0)
	h := laterHello(kr)
	if h.Previous == nil || h.Previous.Reason != "hung: not ready within 3s of its start" {
		t.Fatalf("previous core %+v, want one not ready in time", h.Previous)
	}
	if h.CoreRestarts != 2 {
		t.Errorf("restarts %d, want 2", h.CoreRestarts)
	}
	var answer string
	kr.get(stepLifeAnswer, &answer)
	if !strings.HasPrefix(answer, "503 ") || !strings.Contains(answer, CodeCoreRestarting) {
		t.Errorf("the control socket answered %q while the core restarted, want 503 %s", answer, CodeCoreRestarting)
	}
}

func TestKeeperFailsTheStartOfACoreNeverReady(t *testing.T) {
	kr := runKeeper(t, "never-ready")
	kr.ended(1)
	var msg string
	kr.get("keeper.ready", &msg)
	if !strings.HasPrefix(msg, "core exited before it was ready (exit status 3)") {
		t.Errorf("start reported %q, want the core's exit", msg)
	}
	if !strings.Contains(kr.stderr, "config: no such file") {
		t.Errorf("the core's last words are not passed on:\n%s", kr.stderr)
	}
}

func TestKeeperKillsEverythingWhenCoresKeepDyingDuringAStop(t *testing.T) {
	kr := runKeeper(t, "stop-crash")
	kr.ended(1)
	var svc int
	kr.get(stepLifeService, &svc)
	if err := syscall.Kill(svc, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("service %d after the keeper killed everything: %v, want it gone", svc, err)
	}
	b, err := os.ReadFile(filepath.Join(kr.dir, "cores"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != maxStopCrashes+1 {
		t.Errorf("%d cores ran, want %d", len(b), maxStopCrashes+1)
	}
	var refused string
	kr.get(stepLifeRefused, &refused)
	if refused != "the supervisor is stopping" {
		t.Errorf("an upgrade during the stop: %q, want it refused", refused)
	}
	if !strings.Contains(kr.stderr, "already stopping") {
		t.Errorf("a second signal during the stop is not said to be ignored:\n%s", kr.stderr)
	}
}

// upgraded checks what the upgrade scenarios have in common: the first
// core's request was answered, the keeper resumed, and the last core found
// the service started before the upgrade.
func upgraded(t *testing.T, kr *keeperRun, resumes int) Hello {
	t.Helper()
	kr.ended(0)
	var answer string
	kr.get(stepLifeUpgrade, &answer)
	if answer != "<nil>" {
		t.Errorf("upgrade answered %q, want no error", answer)
	}
	if got := len(kr.all("keeper.resumed")); got != resumes {
		t.Errorf("keeper resumed %d times, want %d", got, resumes)
	}
	var svc int
	kr.get(stepLifeService, &svc)
	var pids []int
	kr.get(stepLifeTable, &pids)
	if len(pids) != 1 || pids[0] != svc {
		t.Errorf("table after the upgrade %v, want the service %d", pids, svc)
	}
	return laterHello(kr)
}

func TestKeeperUpgradeKeepsTheServices(t *testing.T) {
	kr := runKeeper(t, "upgrade")
	h := upgraded(t, kr, 1)
	if h.Upgrade == nil || h.Upgrade.Error != "" || h.Upgrade.Active != h.Upgrade.To {
		t.Errorf("upgrade result %+v, want a success", h.Upgrade)
	}
	if h.Previous == nil || h.Previous.Reason != ReasonUpgrade {
		t.Errorf("previous core %+v, want one that quit for the upgrade", h.Previous)
	}
}

func TestKeeperRollsBackAnUpgradeWhoseCoreDies(t *testing.T) {
	kr := runKeeper(t, "rollback")
	h := upgraded(t, kr, 2)
	if h.Upgrade == nil || !strings.HasPrefix(h.Upgrade.Error, "rolled back: the new core ended before it was ready: exit status 4") {
		t.Errorf("upgrade result %+v, want a rollback", h.Upgrade)
	}
	if !strings.Contains(kr.stderr, "new core: cannot start") {
		t.Errorf("the new core's last words are not passed on:\n%s", kr.stderr)
	}
}

func TestKeeperCarriesOnWhenTheUpgradedBinaryIsGoneAtExec(t *testing.T) {
	kr := runKeeper(t, "upgrade-vanish")
	h := upgraded(t, kr, 0)
	if h.Upgrade == nil || !strings.Contains(h.Upgrade.Error, "no such file") || h.Upgrade.Active != h.Upgrade.From {
		t.Errorf("upgrade result %+v, want a failed exec and the old binary active", h.Upgrade)
	}
	// The services' output still reaches their logs after the failed exec.
	b, err := os.ReadFile(filepath.Join(kr.dir, "state", LogsName, "svc.log"))
	if err != nil || !strings.Contains(string(b), "before") {
		t.Errorf("svc.log after the failed exec: %q, %v", b, err)
	}
}
