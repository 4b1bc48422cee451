package keeper

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"bytes"
)

func init() {
	coreScenarios["byeraw"] = func(r *reporter, dir string) int {
		cl := dialKeeper(r)
		if cl == nil {
			return 1
		}
		if _, err := os.Stat(filepath.Join(dir, "second")); err == nil {
			// a restarted core: say bye properly
			cl.Ready("x")
			cl.Bye(9)
			flush(r, cl)
			return 0
		}
		os.WriteFile(filepath.Join(dir, "second"), nil, 0o600)
		cl.Ready("all up")
		flush(r, cl)
		// big notices so the keeper's reader lags behind
		blob := []byte(`"` + strings.Repeat("x", 150<<10) + `"`)
		for range 3 {
			cl.Save("s", blob)
		}
		cl.Bye(5)
		return 0
	}
}

func TestScratchByeRace(t *testing.T) {
	bad := 0
	for i := range 200 {
		dir := t.TempDir()
		os.Mkdir(filepath.Join(dir, "state"), 0o700)
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), helperEnv+"=keeper", dirEnv+"="+dir, scenarioEnv+"=byeraw", "GORACE=atexit_sleep_ms=0")
		var out bytes.Buffer
		cmd.Stderr = &out
		cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 5 {
			bad++
			if bad < 3 {
				t.Logf("run %d: exit %d\n%s", i, code, out.String())
			}
		}
	}
	t.Logf("%d of 200 runs lost the bye", bad)
}
