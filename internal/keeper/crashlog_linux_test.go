package keeper

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/respawn-sh/respawn/internal/statedir"
)

// Each core's crash output is appended; the keeper reads only the last core's,
// and the file is moved aside once it is large.
func TestCrashLogKeepsEachCoresOutput(t *testing.T) {
	dir, err := statedir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	path := dir.Join(CrashName)
	if from := prepareCrashLog(dir); from != 0 {
		t.Fatalf("no file yet: from %d", from)
	}
	appendTo := func(s string) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	appendTo("first core: panic\n")
	from := prepareCrashLog(dir)
	appendTo("second core: SIGABRT\ngoroutine 1\n")
	if got := readCrashOutput(dir, from); got != "second core: SIGABRT\ngoroutine 1\n" {
		t.Errorf("second core's output %q", got)
	}
	if b, _ := os.ReadFile(path); !strings.HasPrefix(string(b), "first core: panic\n") {
		t.Errorf("the first core's output is gone: %q", b)
	}
	appendTo(strings.Repeat("x", maxCrashLog))
	if from := prepareCrashLog(dir); from != 0 {
		t.Errorf("past the bound: from %d, want a fresh file", from)
	}
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Errorf("the full log was not moved aside: %v", err)
	}
	// A symlink planted in its place is neither read nor followed.
	target := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(target, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if got := readCrashOutput(dir, 0); got != "" {
		t.Errorf("read through a symlink: %q", got)
	}
}
