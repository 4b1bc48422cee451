package keeper

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/proc"
)

// keeperDeadline bounds a whole keeper run, every scenario included.
const keeperDeadline = 60 * time.Second

// keeperRun is the outcome of a keeper helper process.
type keeperRun struct {
	t      *testing.T
	dir    string
	code   int
	notes  []note
	stderr string
}

// runKeeper runs a keeper in a helper process, its cores following scenario
// (env added to its environment), and returns once it has exited.
func runKeeper(t *testing.T, scenario string, env ...string) *keeperRun {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	// Under -race every exit waits a second for late reports; helpers exit often.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), helperEnv+"=keeper", dirEnv+"="+dir, scenarioEnv+"="+scenario, "GORACE="+gorace)
	cmd.Env = append(cmd.Env, env...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	// Services and cores die with the keeper (parent-death signal), so
	// killing it on a timeout leaves nothing behind.
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-time.After(keeperDeadline):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-waited
		t.Fatalf("keeper did not exit within %s; its output:\n%s", keeperDeadline, stderr.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("keeper: %v\n%s", err, stderr.String())
	}
	kr := &keeperRun{t: t, dir: dir, code: cmd.ProcessState.ExitCode(), stderr: stderr.String()}
	kr.notes = readNotes(t, filepath.Join(dir, reportName))
	for _, n := range kr.notes {
		if n.Step == "error" {
			t.Errorf("helper: %s", n.Val)
		}
	}
	if t.Failed() {
		t.Fatalf("keeper output:\n%s", kr.stderr)
	}
	return kr
}

func readNotes(t *testing.T, path string) []note {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var notes []note
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var n note
		if err := json.Unmarshal(sc.Bytes(), &n); err != nil {
			t.Fatalf("report line %q: %v", sc.Text(), err)
		}
		notes = append(notes, n)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return notes
}

// get decodes the one note of step into v.
func (kr *keeperRun) get(step string, v any) {
	kr.t.Helper()
	var found []note
	for _, n := range kr.notes {
		if n.Step == step {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		kr.t.Fatalf("%d notes of %s, want 1; keeper output:\n%s", len(found), step, kr.stderr)
	}
	if err := json.Unmarshal(found[0].Val, v); err != nil {
		kr.t.Fatalf("note %s: %v", step, err)
	}
}

// all returns every note of step, as strings.
func (kr *keeperRun) all(step string) []string {
	var out []string
	for _, n := range kr.notes {
		if n.Step == step {
			var s string
			if err := json.Unmarshal(n.Val, &s); err != nil {
				kr.t.Fatalf("note %s: %v", step, err)
			}
			out = append(out, s)
		}
	}
	return out
}

// ended checks how Run returned, and that the keeper cleaned up after itself.
func (kr *keeperRun) ended(code int) {
	kr.t.Helper()
	var res runResult
	kr.get("keeper.run", &res)
	if res.Code != code || res.Err != "" {
		kr.t.Errorf("Run returned %d, %q; want %d, no error", res.Code, res.Err, code)
	}
	if kr.code != code {
		// 66 is the race detector's: its report is on the keeper's stderr.
		kr.t.Errorf("keeper exit code %d, want %d; its stderr:\n%s", kr.code, code, kr.stderr)
	}
	if _, err := os.Stat(filepath.Join(kr.dir, "state", SocketName)); !errors.Is(err, os.ErrNotExist) {
		kr.t.Errorf("keeper socket after the end: %v, want it removed", err)
	}
	_, err := os.Stat(filepath.Join(kr.dir, "state", RecordsName))
	if code == 0 && !errors.Is(err, os.ErrNotExist) {
		kr.t.Errorf("process records after a clean stop: %v, want them removed", err)
	}
}

func hasLine(lines []logs.Line, stream logs.Stream, text string) bool {
	return slices.ContainsFunc(lines, func(l logs.Line) bool { return l.Stream == stream && l.Text == text })
}

func TestKeeperCapturesOutput(t *testing.T) {
	kr := runKeeper(t, "capture")
	kr.ended(0)
	var noPipes bool
	kr.get(stepCaptureStdout, &noPipes)
	if !noPipes {
		t.Error("a captured run also gave its pipes to the core")
	}
	var ex proc.Exit
	kr.get(stepCaptureExit, &ex)
	if ex.Code != 3 || ex.Signal != 0 {
		t.Errorf("exit %+v, want code 3", ex)
	}
	var gone bool
	kr.get(stepCaptureGone, &gone)
	if !gone {
		t.Error("the exit of a run that left nothing did not say so")
	}
	var left []bool
	kr.get(stepCaptureLeft, &left)
	if len(left) != 2 || left[0] || !left[1] {
		t.Errorf("a run that left a child: gone at exit, gone after the kill = %v, want [false true]", left)
	}
	var lines []logs.Line
	kr.get(stepCaptureLines, &lines)
	if !hasLine(lines, logs.Stdout, "hi") {
		t.Errorf("Lines() = %+v, want stdout \"hi\"", lines)
	}
	logged, err := logs.ReadFile(filepath.Join(kr.dir, "state", LogsName, "svc.log"), time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !hasLine(logged, logs.Stdout, "hi") {
		t.Errorf("log file holds %+v, want stdout \"hi\"", logged)
	}
}

func TestKeeperGivesPipesWithoutSink(t *testing.T) {
	kr := runKeeper(t, "pipes")
	kr.ended(0)
	var drained bool
	kr.get(stepPipesDrained, &drained)
	if !drained {
		t.Error("an uncaptured run is not drained at once")
	}
	var stdout, stderr string
	kr.get(stepPipesStdout, &stdout)
	kr.get(stepPipesStderr, &stderr)
	// FOO comes from the base environment, BAR from the spec, which wins.
	if stdout != "out base own\n" {
		t.Errorf("stdout %q, want %q", stdout, "out base own\n")
	}
	if stderr != "err\n" {
		t.Errorf("stderr %q, want %q", stderr, "err\n")
	}
	var ex proc.Exit
	kr.get(stepPipesExit, &ex)
	if ex.Code != 0 || ex.Signal != 0 {
		t.Errorf("exit %+v, want status 0", ex)
	}
	var done bool
	kr.get(stepPipesSignal, &done)
	if !done {
		t.Error("signal to an ended run is not os.ErrProcessDone")
	}
	var missing struct {
		Err        string `json:"err"`
		SpawnError bool   `json:"spawn_error"`
		NotExist   bool   `json:"not_exist"`
		Op         string `json:"op"`
		Path       string `json:"path"`
	}
	kr.get(stepPipesMissing, &missing)
	if !missing.SpawnError || !missing.NotExist || missing.Path == "" {
		t.Errorf("spawn of a missing command: %+v; want a *proc.SpawnError that is os.ErrNotExist", missing)
	}
}

func TestKeeperCoreRestart(t *testing.T) {
	kr := runKeeper(t, "restart")
	kr.ended(0)
	var first firstCore
	kr.get(stepRestartFirst, &first)
	var h Hello
	kr.get(stepRestartHello, &h)
	if h.CoreRestarts != 1 {
		t.Errorf("CoreRestarts %d, want 1", h.CoreRestarts)
	}
	if h.Previous == nil {
		t.Fatal("no Previous in the second core's hello")
	}
	if h.Previous.Exit != "exit status 2" || h.Previous.Pid != first.Pid || h.Previous.Reason != "crashed" {
		t.Errorf("Previous = %+v, want pid %d, exit status 2, crashed", h.Previous, first.Pid)
	}
	if h.KeeperPid == 0 || h.Containment == "" || h.StartedAt.IsZero() {
		t.Errorf("hello lacks the keeper's facts: %+v", h)
	}
	var saved map[string]json.RawMessage
	kr.get(stepRestartSaved, &saved)
	if string(saved["svc"]) != `{"restarts":4}` || len(saved) != 1 {
		t.Errorf("Saved() = %s, want svc's blob", saved)
	}
	var table []tableEntry
	kr.get(stepRestartTable, &table)
	var names []string
	byName := map[string]tableEntry{}
	for _, e := range table {
		names = append(names, e.Name)
		byName[e.Name] = e
	}
	if !slices.Equal(names, []string{"live", "a", "b"}) {
		t.Fatalf("table %+v, want live, a, b oldest first", table)
	}
	if live := byName["live"]; live.Pid != first.Live || live.Done {
		t.Errorf("live in the table: %+v, want pid %d running", live, first.Live)
	}
	// a ended while no core was connected, before the hello.
	if a := byName["a"]; a.Pid != first.A || !a.Done || a.Exit.Signal != int(syscall.SIGKILL) {
		t.Errorf("a in the table: %+v, want pid %d ended by SIGKILL", a, first.A)
	}
	if b := byName["b"]; b.Pid != first.B {
		t.Errorf("b in the table: %+v, want pid %d", b, first.B)
	}
}

func TestKeeperMatch(t *testing.T) {
	kr := runKeeper(t, "match")
	kr.ended(0)
	var early, late, never bool
	kr.get(stepMatchEarly, &early)
	kr.get(stepMatchLate, &late)
	kr.get(stepMatchNever, &never)
	if !early {
		t.Error("Match on a line already printed did not close")
	}
	if !late {
		t.Error("Match on a line printed later did not close")
	}
	if never {
		t.Error("Match on a line never printed closed")
	}
	var lines []logs.Line
	kr.get(stepMatchLines, &lines)
	for _, want := range []string{"booting", "listening on 8080", "late line"} {
		if !hasLine(lines, logs.Stdout, want) {
			t.Errorf("Lines() = %+v, want %q", lines, want)
		}
	}
}

func TestKeeperByeCode(t *testing.T) {
	kr := runKeeper(t, "bye")
	kr.ended(5)
	if ready := kr.all("keeper.ready"); !slices.Equal(ready, []string{""}) {
		t.Errorf("Options.Ready calls: %q, want one with nil", ready)
	}
	if notified := kr.all("keeper.notify"); !slices.Contains(notified, "READY=1\nSTATUS=all up") {
		t.Errorf("sd_notify states %q, want READY=1 with the core's status", notified)
	}
	if strings.Contains(kr.stderr, "core ended") {
		t.Errorf("a core that said bye was taken for a crash:\n%s", kr.stderr)
	}
}

// The keeper exits only once the core's output has been passed on: the last
// lines of a core are those that say how the stop went.
func TestKeeperPassesOnTheCoresLastLines(t *testing.T) {
	kr := runKeeper(t, "last")
	kr.ended(0)
	if !strings.Contains(kr.stderr, lastWordsLine+"\n") {
		t.Errorf("the keeper's output lacks the core's last line:\n%s", kr.stderr)
	}
}

// The rest of what a core asks of its keeper, once through.
func TestKeeperClientTour(t *testing.T) {
	kr := runKeeper(t, "tour")
	kr.ended(0)
	var usage, gone, adoptRefused bool
	kr.get(stepTourUsage, &usage)
	kr.get(stepTourGone, &gone)
	kr.get(stepTourAdopt, &adoptRefused)
	if !usage || !gone || !adoptRefused {
		t.Errorf("usage measured %v, tree gone %v, stranger refused %v: want all true", usage, gone, adoptRefused)
	}
	var batch map[string]any
	kr.get(stepTourUsages, &batch)
	if batch["err"] != "<nil>" || batch["n"] != float64(maxUsageBatch+1) || batch["first_mem"] != true || batch["last_unknown"] != true {
		t.Errorf("usages of a run and %d unknown pids: %v", maxUsageBatch, batch)
	}
	var killed struct {
		Signal int  `json:"signal"`
		OOM    bool `json:"oom"`
	}
	kr.get(stepTourKilled, &killed)
	if killed.Signal != int(syscall.SIGKILL) || killed.OOM {
		t.Errorf("killed run: %+v, want SIGKILL and no OOM", killed)
	}
	var onDone map[string]bool
	kr.get(stepTourOnDone, &onDone)
	if !onDone["called"] || !onDone["late_at_once"] || onDone["replaced_called"] || onDone["called_again"] {
		t.Errorf("OnDone: %v, want the last function called once, one given after the end at once, the replaced one never", onDone)
	}
	var sinks struct {
		Dropped uint64 `json:"dropped"`
		Close   string `json:"close"`
	}
	kr.get(stepTourSinks, &sinks)
	if sinks.Dropped != 0 || sinks.Close != "" {
		t.Errorf("sinks: %+v, want nothing dropped and a clean close", sinks)
	}
	var upgrade, orphans string
	kr.get(stepTourUpgrade, &upgrade)
	kr.get(stepTourOrphans, &orphans)
	if !strings.Contains(upgrade, "no-such-respawn") {
		t.Errorf("upgrade to a missing binary: %q, want a refusal naming it", upgrade)
	}
	if orphans != "" {
		t.Errorf("kill orphans: %q", orphans)
	}
	var reload bool
	kr.get(stepTourReload, &reload)
	// Only the reload's line: the keeper may end on the core's bye before it
	// takes USR2 and USR1, which the runtime hands over after HUP when all
	// three are pending (lowest number first). The signals end-to-end test
	// watches their lines on a supervisor that keeps running.
	if want := "SIGHUP received: reloading the config"; !strings.Contains(kr.stderr, want) {
		t.Errorf("the keeper's log lacks %q:\n%s", want, kr.stderr)
	}
}
