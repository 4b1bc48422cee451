//go:build linux

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func TestMultilogFilesInOrder(t *testing.T) {
	dir := t.TempDir()
	// TAI64N names sort by time; "lock" and "state" are not log files.
	for _, n := range []string{"@400000006b1282b4361d6a9c.s", "current", "lock", "state", "@400000006b1282b42d337ebc.s", "@400000006b1282b4400000aa.u"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := daemontoolsPeer{}.logFiles(filepath.Join(dir, "current"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range got {
		names = append(names, filepath.Base(g))
	}
	want := []string{"@400000006b1282b42d337ebc.s", "@400000006b1282b4361d6a9c.s", "@400000006b1282b4400000aa.u", "current"}
	if !slices.Equal(names, want) {
		t.Errorf("logFiles = %v, want %v", names, want)
	}
}

func TestTimeStatus(t *testing.T) {
	truth, err1 := exec.LookPath("true")
	falsity, err2 := exec.LookPath("false")
	if err1 != nil || err2 != nil {
		t.Skip("no true or false on PATH")
	}
	r, err := timeStatus(context.Background(), [][]string{{truth}, {falsity}}, 3, statusLimit)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.times) != 3 || r.nonzero != 3 || r.first == "" {
		t.Errorf("timeStatus = %+v, want 3 timed runs, all counted non-zero with the first failure kept", r)
	}
	if _, err := timeStatus(context.Background(), [][]string{{filepath.Join(t.TempDir(), "missing")}}, 1, statusLimit); err == nil {
		t.Error("timeStatus of a missing program: no error")
	}
}

func TestStatusCommands(t *testing.T) {
	names := []string{"s00000", "s00001"}
	if got := len(s6Peer{svstat: "s6-svstat"}.status("/d", names, true)); got != 2 {
		t.Errorf("s6 status of 2: %d commands, want one per service", got)
	}
	dt := daemontoolsPeer{svstat: "svstat"}.status("/d", names, true)
	if want := [][]string{{"svstat", "/d/scan/s00000", "/d/scan/s00001"}}; !slices.EqualFunc(dt, want, slices.Equal) {
		t.Errorf("daemontools status = %v, want %v", dt, want)
	}
	sv := supervisordPeer{bin: "/usr/bin/supervisord"}.status("/d", names[:1], false)
	if want := [][]string{{"/usr/bin/supervisorctl", "-c", "/d/supervisord.conf", "status", "fleet:s00000"}}; !slices.EqualFunc(sv, want, slices.Equal) {
		t.Errorf("supervisord status = %v, want %v", sv, want)
	}
	rs := respawnPeer{bin: "respawn"}.status("/d", names, true)
	if want := [][]string{{"respawn", "status", "-c", "/d/respawn.yaml"}}; !slices.EqualFunc(rs, want, slices.Equal) {
		t.Errorf("respawn status of all = %v, want %v", rs, want)
	}
}
