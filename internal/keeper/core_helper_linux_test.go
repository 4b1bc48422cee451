package keeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/proc"
)

// coreScenarios are the scripts a core helper follows, by scenarioEnv. Each
// returns the core's exit code.
var coreScenarios = map[string]func(r *reporter, dir string) int{
	"capture": coreCapture,
	"pipes":   corePipes,
	"restart": coreRestart,
	"match":   coreMatch,
	"bye":     coreBye,
	"last":    coreLastWords,
}

// Steps the core helpers report.
const (
	stepCaptureStdout = "capture.stdout_nil"
	stepCaptureExit   = "capture.exit"
	stepCaptureLines  = "capture.lines"
	stepCaptureGone   = "capture.tree_gone"
	stepCaptureLeft   = "capture.tree_left_gone"

	stepPipesDrained = "pipes.drained_at_once"
	stepPipesStdout  = "pipes.stdout"
	stepPipesStderr  = "pipes.stderr"
	stepPipesExit    = "pipes.exit"
	stepPipesMissing = "pipes.missing"
	stepPipesSignal  = "pipes.signal_done"

	stepRestartFirst = "restart.first"
	stepRestartHello = "restart.hello"
	stepRestartSaved = "restart.saved"
	stepRestartTable = "restart.table"

	stepMatchEarly = "match.early"
	stepMatchLate  = "match.late"
	stepMatchNever = "match.never_closed"
	stepMatchLines = "match.lines"
)

func dialKeeper(r *reporter) *Client {
	cl, err := Dial(os.Getenv(EnvSocket))
	if err != nil {
		r.fail("dial", err)
		return nil
	}
	return cl
}

// within waits for ch, bounded.
func within(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(helperDeadline):
		return false
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// flush returns once the keeper has handled every message sent before it:
// it answers requests in the order they come, after the notices before them.
func flush(r *reporter, cl *Client) {
	if err := cl.Forget("no-such-service"); err != nil {
		r.fail("flush", err)
	}
}

// finish ends a scenario the way a core ends an ordered stop.
func finish(r *reporter, cl *Client, code int) int {
	if err := cl.Ready("done"); err != nil {
		r.fail("ready", err)
	}
	if err := cl.Bye(code); err != nil {
		r.fail("bye", err)
	}
	flush(r, cl)
	return 0
}

func shSpec(dir, name, script string, env ...string) proc.Spec {
	return proc.Spec{Name: name, Args: []string{"sh", "-c", script}, Env: append([]string{"PATH=" + os.Getenv("PATH")}, env...), Dir: dir}
}

// coreCapture: a run's output goes to its log; its exit and last lines come back.
func coreCapture(r *reporter, dir string) int {
	cl := dialKeeper(r)
	if cl == nil {
		return 1
	}
	if err := cl.OpenSink("svc", filepath.Join(dir, "state", LogsName, "svc.log"), logs.Options{}); err != nil {
		r.fail("open sink", err)
		return 1
	}
	p, err := cl.Spawn(shSpec(dir, "svc", "echo hi; exit 3"), "svc")
	if err != nil {
		r.fail("spawn", err)
		return 1
	}
	r.note(stepCaptureStdout, p.Stdout() == nil && p.Stderr() == nil)
	if !within(p.Done()) {
		r.fail("exit", errors.New("no exit"))
		return 1
	}
	r.note(stepCaptureExit, p.Exit())
	// The exit said nothing was left: killing the tree asks nothing.
	r.note(stepCaptureGone, p.treeGone())
	if !within(p.Drained()) {
		r.fail("drain", errors.New("output never drained"))
		return 1
	}
	r.note(stepCaptureLines, p.Lines())
	// A run that leaves a child behind: the exit says so, and the kill goes
	// to the keeper.
	left, err := cl.Spawn(shSpec(dir, "left", "sleep 1000 & exit 0"), "")
	if err != nil {
		r.fail("spawn", err)
		return 1
	}
	if !within(left.Done()) {
		r.fail("exit", errors.New("no exit"))
		return 1
	}
	goneAtExit := left.treeGone()
	if err := left.KillTree(); err != nil {
		r.fail("kill", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.note(stepCaptureLeft, []bool{goneAtExit, left.WaitTreeGone(ctx) == nil})
	return finish(r, cl, 0)
}

// corePipes: without a sink, the output pipes come to the core.
func corePipes(r *reporter, dir string) int {
	cl := dialKeeper(r)
	if cl == nil {
		return 1
	}
	spec := shSpec(dir, "svc", `echo "out $FOO $BAR"; echo err >&2`, "BAR=own")
	spec.BaseEnv = []string{"FOO=base", "BAR=base"}
	p, err := cl.Spawn(spec, "")
	if err != nil {
		r.fail("spawn", err)
		return 1
	}
	r.note(stepPipesDrained, isClosed(p.Drained()))
	if p.Stdout() == nil || p.Stderr() == nil {
		r.fail("spawn", errors.New("no pipes came back"))
		return 1
	}
	for _, s := range []struct {
		step string
		f    *os.File
	}{{stepPipesStdout, p.Stdout()}, {stepPipesStderr, p.Stderr()}} {
		b, err := io.ReadAll(s.f)
		if err != nil {
			r.fail("read "+s.step, err)
		}
		s.f.Close()
		r.note(s.step, string(b))
	}
	if !within(p.Done()) {
		r.fail("exit", errors.New("no exit"))
		return 1
	}
	r.note(stepPipesExit, p.Exit())
	// The keeper still has the ended run in its table.
	err = p.Signal(unix.SIGTERM)
	r.note(stepPipesSignal, errors.Is(err, os.ErrProcessDone))

	_, err = cl.Spawn(proc.Spec{Name: "missing", Args: []string{"/nonexistent/respawn-keeper-test"}, Dir: dir}, "")
	var se *proc.SpawnError
	missing := map[string]any{"err": fmt.Sprint(err), "spawn_error": errors.As(err, &se), "not_exist": errors.Is(err, os.ErrNotExist)}
	if se != nil {
		missing["op"], missing["path"] = se.Op, se.Path
	}
	r.note(stepPipesMissing, missing)
	return finish(r, cl, 0)
}

// firstCore is what the first core of the restart scenario leaves for the next.
type firstCore struct {
	Pid  int `json:"pid"`
	Live int `json:"live"`
	A    int `json:"a"`
	B    int `json:"b"`
}

// tableEntry is a Table process as the next core saw it at hello.
type tableEntry struct {
	Name string    `json:"name"`
	Pid  int       `json:"pid"`
	Done bool      `json:"done"`
	Exit proc.Exit `json:"exit"`
}

// coreRestart: the first core crashes; the second finds the table, the saved
// state and an exit that happened while no core was connected.
func coreRestart(r *reporter, dir string) int {
	path := filepath.Join(dir, "first-core.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return coreRestartFirst(r, dir, path)
	}
	if err != nil {
		r.fail("read first core", err)
		return 1
	}
	var first firstCore
	if err := json.Unmarshal(b, &first); err != nil {
		r.fail("decode first core", err)
		return 1
	}
	return coreRestartSecond(r, dir, first)
}

func coreRestartFirst(r *reporter, dir, path string) int {
	cl := dialKeeper(r)
	if cl == nil {
		return 1
	}
	if err := cl.Ready("first"); err != nil {
		r.fail("ready", err)
	}
	if err := cl.Save("svc", []byte(`{"restarts":4}`)); err != nil {
		r.fail("save", err)
	}
	first := firstCore{Pid: os.Getpid()}
	for _, s := range []struct {
		name string
		pid  *int
	}{{"live", &first.Live}, {"a", &first.A}, {"b", &first.B}} {
		p, err := cl.Spawn(proc.Spec{Name: s.name, Args: []string{"sleep", "1000"}, Env: []string{"PATH=" + os.Getenv("PATH")}, Dir: dir}, "")
		if err != nil {
			r.fail("spawn "+s.name, err)
			return 1
		}
		*s.pid = p.Pid()
	}
	b, err := json.Marshal(first)
	if err == nil {
		err = os.WriteFile(path, b, 0o600)
	}
	if err != nil {
		r.fail("write first core", err)
		return 1
	}
	r.note(stepRestartFirst, first)
	return 2 // the crash
}

// reaped waits until pid no longer exists: its parent, the keeper, reaped it.
func reaped(pid int) error {
	end := time.Now().Add(helperDeadline)
	for {
		err := unix.Kill(pid, 0)
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("pid %d still exists: %v", pid, err)
		}
		time.Sleep(5 * time.Millisecond) // polling, bounded by end
	}
}

func coreRestartSecond(r *reporter, dir string, first firstCore) int {
	// Before connecting, end a and then b. The keeper handles one reaped
	// child at a time, so once b is reaped, a's exit is in its table.
	for _, pid := range []int{first.A, first.B} {
		if err := unix.Kill(pid, unix.SIGKILL); err != nil {
			r.fail("kill", err)
			return 1
		}
		if err := reaped(pid); err != nil {
			r.fail("reap", err)
			return 1
		}
	}
	cl := dialKeeper(r)
	if cl == nil {
		return 1
	}
	r.note(stepRestartHello, cl.Hello())
	r.note(stepRestartSaved, cl.Saved())
	var table []tableEntry
	for _, p := range cl.Table() {
		table = append(table, tableEntry{Name: p.Name(), Pid: p.Pid(), Done: isClosed(p.Done()), Exit: p.Exit()})
	}
	r.note(stepRestartTable, table)
	for _, p := range cl.Table() {
		if p.Name() == "live" {
			if err := p.KillTree(); err != nil {
				r.fail("kill live", err)
			}
		}
		if !within(p.Done()) {
			r.fail("wait "+p.Name(), errors.New("no exit"))
		}
	}
	return finish(r, cl, 0)
}

// coreMatch: log readiness is decided in the keeper, on the run's lines.
func coreMatch(r *reporter, dir string) int {
	cl := dialKeeper(r)
	if cl == nil {
		return 1
	}
	if err := cl.OpenSink("svc", filepath.Join(dir, "state", LogsName, "svc.log"), logs.Options{}); err != nil {
		r.fail("open sink", err)
		return 1
	}
	flag := filepath.Join(dir, "go")
	// The service polls for the flag: its own pace, not the test's synchronization.
	script := `echo booting; echo "listening on 8080"; while [ ! -e "$GO" ]; do sleep 0.01; done; echo late line; exec sleep 1000`
	p, err := cl.Spawn(shSpec(dir, "svc", script, "GO="+flag), "svc")
	if err != nil {
		r.fail("spawn", err)
		return 1
	}
	r.note(stepMatchEarly, within(p.Match(regexp.MustCompile(`listening on \d+`))))
	late := p.Match(regexp.MustCompile(`^late line$`))
	never := p.Match(regexp.MustCompile(`never printed`))
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		r.fail("flag", err)
		return 1
	}
	r.note(stepMatchLate, within(late))
	if err := p.KillTree(); err != nil {
		r.fail("kill", err)
	}
	if !within(p.Done()) || !within(p.Drained()) {
		r.fail("end", errors.New("no exit or no drain"))
		return 1
	}
	r.note(stepMatchNever, isClosed(never))
	r.note(stepMatchLines, p.Lines())
	return finish(r, cl, 0)
}

// coreBye: the ordered stop is done; the keeper exits with the core's code.
func coreBye(r *reporter, _ string) int {
	cl := dialKeeper(r)
	if cl == nil {
		return 1
	}
	if err := cl.Ready("all up"); err != nil {
		r.fail("ready", err)
	}
	flush(r, cl)
	if err := cl.Bye(5); err != nil {
		r.fail("bye", err)
	}
	flush(r, cl)
	return 0
}

// lastWordsLine ends what the "last" core writes after its bye.
const lastWordsLine = "the core's very last line"

// coreLastWords: the core's last line reaches its stderr after its exit (a
// child of its own writes it, as a loaded machine may delay a write): the
// keeper passes it on before it exits.
func coreLastWords(r *reporter, _ string) int {
	cl := dialKeeper(r)
	if cl == nil {
		return 1
	}
	if err := cl.Ready("all up"); err != nil {
		r.fail("ready", err)
	}
	late := exec.Command("sh", "-c", "sleep 0.5; echo \"$0\" >&2", lastWordsLine)
	late.Stderr = os.Stderr
	if err := late.Start(); err != nil {
		r.fail("start the late writer", err)
	}
	if err := cl.Bye(0); err != nil {
		r.fail("bye", err)
	}
	flush(r, cl)
	return 0
}
