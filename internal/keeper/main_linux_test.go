package keeper

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/platform"
	"github.com/respawn-sh/respawn/internal/proc"
)

// The test binary doubles as the keeper and as its core: with helperEnv set
// it runs that role instead of the tests. A keeper makes its process a child
// subreaper and owns every wait, so it never runs inside the test process.
const (
	helperEnv   = "RESPAWN_KEEPER_TEST_HELPER"   // "keeper" or "core"
	dirEnv      = "RESPAWN_KEEPER_TEST_DIR"      // the test's directory: state dir, logs, report
	scenarioEnv = "RESPAWN_KEEPER_TEST_SCENARIO" // what the core does
	// coreTimeoutEnv sets the keeper's CoreTimeout, for the hang scenarios.
	coreTimeoutEnv = "RESPAWN_KEEPER_TEST_CORE_TIMEOUT"
	// helperDeadline bounds every wait in a helper; generous, for a loaded 2-core machine.
	helperDeadline = 20 * time.Second
	reportName     = "report.jsonl"
	controlName    = "respawn.sock"
)

func TestMain(m *testing.M) {
	proc.RunTrampoline()
	// The suite runs a second time on the POSIX path (scripts/test.sh):
	// the test binary, and the keepers and cores it runs of itself.
	if v := os.Getenv("RESPAWN_PLATFORM"); v != "" {
		f, err := platform.Choose(v)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		platform.Set(f)
	}
	// What a keeper runs of its binary during an upgrade: the check (with
	// an empty environment) and the new image.
	if len(os.Args) == 3 && os.Args[1] == "__keeper-check" {
		line, err := Check(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(line)
		os.Exit(0)
	}
	if len(os.Args) == 3 && os.Args[1] == "__keeper-resume" && os.Getenv(helperEnv) == "keeper" {
		os.Exit(runResumedKeeperHelper(os.Args[2]))
	}
	switch os.Getenv(helperEnv) {
	case "keeper":
		os.Exit(runKeeperHelper())
	case "core":
		os.Exit(runCoreHelper())
	}
	os.Exit(m.Run())
}

// note is one fact a helper reports to the test, as one JSON line.
type note struct {
	Step string          `json:"step"`
	Val  json.RawMessage `json:"val"`
}

// reporter appends notes to the report file shared by the keeper and its cores.
type reporter struct{ f *os.File }

func openReporter() *reporter {
	f, err := os.OpenFile(filepath.Join(os.Getenv(dirEnv), reportName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(3)
	}
	return &reporter{f: f}
}

func (r *reporter) note(step string, val any) {
	v, err := json.Marshal(val)
	if err != nil {
		v, _ = json.Marshal(err.Error())
		step = "error"
	}
	b, _ := json.Marshal(note{Step: step, Val: v})
	// One write per line: with O_APPEND, lines of several processes never mix.
	if _, err := r.f.Write(append(b, '\n')); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
	}
}

// fail reports something the helper could not do; the test fails on it.
func (r *reporter) fail(what string, err error) {
	r.note("error", fmt.Sprintf("%s: %v", what, err))
}

// runKeeperHelper runs a keeper whose cores are this binary in core mode.
func runKeeperHelper() int {
	r := openReporter()
	dir := os.Getenv(dirEnv)
	self, err := os.Executable()
	if err != nil {
		r.fail("executable", err)
		return 1
	}
	var coreEnv []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, helperEnv+"=") {
			coreEnv = append(coreEnv, kv)
		}
	}
	coreEnv = append(coreEnv, helperEnv+"=core")
	opts := Options{
		StateDir: filepath.Join(dir, "state"),
		// Process groups: the test may run where no cgroup can be made.
		InstanceID: "keeper-test-" + strconv.Itoa(os.Getpid()),
		NoCgroup:   true,
		Binary:     self,
		CoreEnv:    coreEnv,
		// The keeper answers it while no core does.
		ControlSocket: filepath.Join(dir, "state", controlName),
	}
	if v := os.Getenv(coreTimeoutEnv); v != "" {
		if opts.CoreTimeout, err = time.ParseDuration(v); err != nil {
			r.fail("core timeout", err)
			return 1
		}
	}
	completeOptions(r, &opts)
	code, err := Run(opts)
	return r.ran(code, err)
}

// runResumedKeeperHelper is the keeper helper's image after an upgrade (or
// a rollback): it resumes from the handover file.
func runResumedKeeperHelper(path string) int {
	r := openReporter()
	r.note("keeper.resumed", path)
	code, err := Resume(path, func(o *Options) error {
		completeOptions(r, o)
		return nil
	})
	return r.ran(code, err)
}

// completeOptions sets what a keeper helper reports through.
func completeOptions(r *reporter, o *Options) {
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.Ready = func(err error) {
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		r.note("keeper.ready", msg)
	}
	o.Notify = func(state string) error {
		r.note("keeper.notify", state)
		return nil
	}
}

// ran reports how Run (or Resume) returned.
func (r *reporter) ran(code int, err error) int {
	res := runResult{Code: code}
	if err != nil {
		res.Err = err.Error()
	}
	r.note("keeper.run", res)
	return code
}

// runResult is what Run returned in the keeper helper.
type runResult struct {
	Code int    `json:"code"`
	Err  string `json:"err"`
}

func runCoreHelper() int {
	r := openReporter()
	defer r.f.Close()
	scenario := coreScenarios[os.Getenv(scenarioEnv)]
	if scenario == nil {
		r.fail("core", fmt.Errorf("no scenario %q", os.Getenv(scenarioEnv)))
		return 1
	}
	return scenario(r, os.Getenv(dirEnv))
}
