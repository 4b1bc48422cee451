package logs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpenRefusesSymlinkedLog(t *testing.T) {
	c := newCapture(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "logs", "web.log")
	if err := os.Mkdir(filepath.Dir(link), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Open(link, Options{}); err == nil {
		s.Close()
		t.Fatal("a symlinked log was opened")
	}
	if b, _ := os.ReadFile(target); string(b) != "precious\n" {
		t.Errorf("target changed: %q", b)
	}
	// Files read back never follow a link either: the target here is a
	// well-formed log that would show.
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, FormatLine(nil, Line{Time: time.Now(), Stream: Stdout, Text: "precious"}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "logs", "api.log.1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "logs", "api.log")); err != nil {
		t.Fatal(err)
	}
	lines, _ := ReadFile(filepath.Join(dir, "logs", "api.log"), time.Time{}, 0)
	for _, l := range lines {
		if strings.Contains(l.Text, "precious") {
			t.Errorf("ReadFile showed the symlink's target: %q", l.Text)
		}
	}
}

// TestOpenInNamesOnly refuses a name that is not one path element.
func TestOpenInNamesOnly(t *testing.T) {
	c := newCapture(t)
	for _, bad := range []string{"", "../x.log", "a/b.log"} {
		if s, err := c.OpenIn(pathDir(t.TempDir()), bad, Options{}); err == nil {
			s.Close()
			t.Errorf("OpenIn(%q) accepted", bad)
		}
	}
}
