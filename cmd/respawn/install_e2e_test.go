//go:build linux

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// installConfig writes a minimal valid config and returns its path.
func installConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "respawn.yaml")
	// web stops before db: 10 s + 20 s of stop timeouts in a row.
	cfg := "version: 1\nservices:\n  db:\n    command: [\"sleep\", \"1000\"]\n    stop: {timeout: 10s}\n" +
		"  web:\n    command: [\"sleep\", \"1000\"]\n    stop: {timeout: 20s}\n    depends_on: [db]\n" +
		"  lone:\n    command: [\"sleep\", \"1000\"]\n    stop: {timeout: 25s}\n"
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestInstallSystemdUnitVerifies(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze not found (install the Debian package \"systemd\"): %v", err)
	}
	cfg := installConfig(t)
	out := runOK(t, "install", "--systemd", "--print", "-c", cfg)
	for _, want := range []string{
		"Type=notify\n",
		"ExecStart=" + bin + " up --no-output -c " + cfg + "\n",
		"ExecStop=" + bin + " down -c " + cfg + "\n",
		// The chain, each link with 5 s to kill what is left, plus 10 s.
		"TimeoutStopSec=50\n",
		"Delegate=yes\n",
		"WantedBy=multi-user.target\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("unit lacks %q:\n%s", want, out)
		}
	}
	unit := filepath.Join(t.TempDir(), "respawn-x.service")
	if err := os.WriteFile(unit, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	verify := exec.Command(analyze, "verify", unit)
	res, err := verify.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s\nunit:\n%s", err, res, out)
	}
	// verify exits 0 on some warnings; any line naming the unit is a problem with it.
	for _, line := range strings.Split(string(res), "\n") {
		if strings.Contains(line, "respawn-x.service") {
			t.Errorf("systemd-analyze: %s", line)
		}
	}

	user := runOK(t, "install", "--systemd", "--user", "--print", "-c", cfg)
	if !strings.Contains(user, "WantedBy=default.target\n") {
		t.Errorf("--user unit:\n%s", user)
	}
}

func TestInstallCronPrint(t *testing.T) {
	t.Parallel()
	cfg := installConfig(t)
	out := runOK(t, "install", "--cron", "--print", "-c", cfg)
	for _, want := range []string{
		"@reboot " + bin + " up -d --ensure -c " + cfg + "\n",
		"*/5 * * * * " + bin + " up -d --ensure -c " + cfg + "\n",
		"# BEGIN respawn " + cfg + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("cron lines lack %q:\n%s", want, out)
		}
	}
}

func TestInstallRejectsBadUse(t *testing.T) {
	t.Parallel()
	cfg := installConfig(t)
	for _, args := range [][]string{
		{"install", "--systemd", "--cron", "--print", "-c", cfg},
		{"install", "--print", "-c", filepath.Join(t.TempDir(), "missing.yaml")},
	} {
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%q: %v, want exit 2\n%s", args, err, out)
		}
	}
}

// runOK runs the binary and fails the test unless it exits 0.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("respawn %q: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}
