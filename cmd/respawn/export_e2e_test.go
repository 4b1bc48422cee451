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

// exportRun runs respawn export and returns its stdout and stderr; want is
// the exit code it must end with.
func exportRun(t *testing.T, want int, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"export"}, args...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != want {
		t.Fatalf("respawn export %q: exit %d, want %d\n%s%s", args, code, want, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

func TestExportSystemdVerifies(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze not found (install the Debian package \"systemd\"): %v", err)
	}
	dir := filepath.Join(t.TempDir(), "units")
	stdout, stderr := exportRun(t, 0, "systemd", "-c", "../../examples/webapp.yaml", "-o", dir)
	names := []string{"db.service", "migrate.service", "api.service", "worker.1.service", "worker.2.service", "webapp.target"}
	var paths []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		if !strings.Contains(stdout, "wrote "+p+"\n") {
			t.Errorf("stdout does not say it wrote %s:\n%s", p, stdout)
		}
		paths = append(paths, p)
	}
	// What systemd cannot carry over is said on stderr.
	for _, want := range []string{
		"respawn: not carried over: api: ready.http: ",
		"respawn: not carried over: api: depends_on.db.restart: ",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	out, err := exec.Command(analyze, append([]string{"verify"}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.Contains(line, dir) {
			t.Errorf("systemd-analyze: %s", line)
		}
	}

	// A second export into the same dir refuses, and changes nothing.
	if err := os.WriteFile(paths[0], []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr = exportRun(t, 2, "systemd", "-c", "../../examples/webapp.yaml", "-o", dir)
	if !strings.Contains(stderr, paths[0]+" exists") {
		t.Errorf("refusal does not name the file:\n%s", stderr)
	}
	if b, _ := os.ReadFile(paths[0]); string(b) != "mine\n" {
		t.Errorf("refused export changed %s: %q", paths[0], b)
	}
	exportRun(t, 0, "systemd", "-c", "../../examples/webapp.yaml", "-o", dir, "--force")
	if b, _ := os.ReadFile(paths[0]); !strings.Contains(string(b), "[Service]") {
		t.Errorf("--force left %s as %q", paths[0], b)
	}
}

func TestExportToStdout(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args   []string
		prefix string
	}{
		// Several files: each after its name.
		{[]string{"systemd"}, "# FILE: db.service\n[Unit]\n"},
		// One file: as it is.
		{[]string{"compose", "--image", "example/webapp"}, "# From "},
		{[]string{"kubernetes", "--image", "example/webapp"}, "# From "},
		{[]string{"kubernetes", "--image", "example/webapp", "--json"}, "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\","},
		{[]string{"nomad"}, "{\n  \"Job\": {\n    \"ID\": \"webapp\","},
	} {
		stdout, stderr := exportRun(t, 0, append(c.args, "-c", "../../examples/webapp.yaml")...)
		if !strings.HasPrefix(stdout, c.prefix) {
			t.Errorf("%q: stdout does not start with %q:\n%s", c.args, c.prefix, stdout)
		}
		if !strings.Contains(stderr, "respawn: not carried over: api: ") {
			t.Errorf("%q: stderr names nothing api loses:\n%s", c.args, stderr)
		}
	}
}

func TestExportRejectsBadUse(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"nosuchformat", "-c", "../../examples/webapp.yaml"},
		{"systemd", "--image", "x", "-c", "../../examples/webapp.yaml"},
		{"systemd", "--force", "-c", "../../examples/webapp.yaml"},
		{"systemd", "--json", "-c", "../../examples/webapp.yaml"},
		{"compose", "-c", "../../examples/webapp.yaml"},
		{"kubernetes", "-c", "../../examples/webapp.yaml"},
		{"systemd", "-c", filepath.Join(t.TempDir(), "missing.yaml")},
	} {
		exportRun(t, 2, args...)
	}
}

// TestExportLinksNoUpstreamTypes: the exporters write their own structs; the
// engines' API modules are for the tests that decode the output, and must
// not enter the binary.
func TestExportLinksNoUpstreamTypes(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for dep := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(dep, "k8s.io/") || strings.HasPrefix(dep, "sigs.k8s.io/") || strings.HasPrefix(dep, "github.com/hashicorp/") {
			t.Errorf("the binary links %s", dep)
		}
	}
}
