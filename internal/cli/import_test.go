package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	procfile := filepath.Join(dir, "Procfile")
	if err := os.WriteFile(procfile, []byte("web: ./server\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// To stdout, the config; on stderr, the notes.
	out, errs, code := runEventsCLI("import", "procfile", procfile, "--formation", "web=2")
	if code != ExitOK || !strings.Contains(out, "replicas: 2") || !strings.Contains(errs, "respawn import: Procfile: foreman and honcho stop every process") {
		t.Errorf("import to stdout: exit %d\n%s\n%s", code, out, errs)
	}
	// -o writes a new file, and keeps an existing one without --force.
	target := filepath.Join(dir, "respawn.yaml")
	if _, errs, code := runEventsCLI("import", "procfile", procfile, "-o", target); code != ExitOK {
		t.Fatalf("import -o: exit %d: %s", code, errs)
	}
	written, err := os.ReadFile(target)
	if err != nil || !strings.Contains(string(written), `cwd: "."`) {
		t.Errorf("written beside the Procfile, cwd is not \".\": %v\n%s", err, written)
	}
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := runEventsCLI("import", "procfile", procfile, "-o", target); code != ExitUsage || !strings.Contains(errs, "--force") {
		t.Errorf("import over a file: exit %d: %s", code, errs)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the existing file was changed: %q", b)
	}
	if _, errs, code := runEventsCLI("import", "procfile", procfile, "-o", target, "--force"); code != ExitOK {
		t.Errorf("import --force: exit %d: %s", code, errs)
	}
	for _, args := range [][]string{
		{"import", "upstart", procfile},
		{"import", "supervisord", procfile, "--port-base", "6000"},
		{"import", "pm2", procfile, "--formation", "web=2"},
		{"import", "procfile", filepath.Join(dir, "missing")},
		{"import", "procfile"},
	} {
		if _, errs, code := runEventsCLI(args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, ExitUsage, errs)
		}
	}
}
