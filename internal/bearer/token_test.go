package bearer

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProblem(t *testing.T) {
	tests := []struct {
		tok  string
		want string // "" for a strong token, else a part of the message
	}{
		{"x", "the token is 1 characters, about 6 bits; it needs at least 128 bits: 22 characters or more"},
		{strings.Repeat("Ab-_", 5) + "z", "the token is 21 characters"},
		{strings.Repeat("Ab-_", 5) + "zz", ""},
		{"q83vEjRWeJq83vEjRWeJq8==", ""},                 // 22 base64 characters and padding
		{"q83vEjRWeJq83vEjRWeJq===", "is 21 characters"}, // padding does not count
		{strings.Repeat("a1", 15) + "f", "the token is 31 hexadecimal digits, about 124 bits; it needs at least 128 bits: 32 hexadecimal digits or more"},
		{strings.Repeat("a1", 16), ""},
		{strings.Repeat("7", 38), "38 decimal digits, about 126 bits; it needs at least 128 bits: 39 decimal digits or more"},
		{strings.Repeat("7", 39), ""},
		{"correct-horse-battery-staple", ""},
		{"==", "the token is 0 characters"},
	}
	for _, tt := range tests {
		got := Problem(tt.tok)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("Problem(%q) = %q, want %q", tt.tok, got, tt.want)
		}
	}
}

func TestRecipeQuotes(t *testing.T) {
	if got := Recipe("/etc/respawn/secret.token"); got != "(umask 077; head -c 32 /dev/urandom | base64 > /etc/respawn/secret.token)" {
		t.Errorf("plain path: %s", got)
	}
	if got := Recipe("/srv/my app/it's"); got != `(umask 077; head -c 32 /dev/urandom | base64 > '/srv/my app/it'\''s')` {
		t.Errorf("quoted path: %s", got)
	}
}

// testToken is strong enough: 27 characters of a base64 alphabet.
const testToken = "tok-en-0123456789abcdefghij"

func writeToken(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret.token")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

func TestRead(t *testing.T) {
	p := writeToken(t, "  abc-123_XYZ-abc-123_XYZ\n", 0o600)
	if tok, err := Read(p); err != nil || tok != "abc-123_XYZ-abc-123_XYZ" {
		t.Fatalf("Read = %q, %v", tok, err)
	}
	if tok, err := Read(writeToken(t, testToken, 0o400)); err != nil || tok != testToken {
		t.Fatalf("0400: %q, %v", tok, err)
	}
	bad := []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"readable by others", "abc", 0o644, "has mode 0644"},
		{"group-writable", "abc", 0o620, "has mode 0620"},
		{"empty", " \n", 0o600, "it is empty"},
		{"inner space", "ab c", 0o600, "printable ASCII"},
		{"weak", "0123456789abcdef0123456789abcde", 0o600, "too easy to guess: the token is 31 hexadecimal digits, about 124 bits; it needs at least 128 bits: 32 hexadecimal digits or more; make one with: (umask 077; head -c 32 /dev/urandom | base64 > "},
		{"too long", strings.Repeat("a", MaxLen+1), 0o600, "longer than"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			p := writeToken(t, tt.content, tt.mode)
			_, err := Read(p)
			if !errors.Is(err, ErrBadFile) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want ErrBadFile naming %s and %q", err, p, tt.want)
			}
		})
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := Read(t.TempDir()); !errors.Is(err, ErrBadFile) {
		t.Fatalf("directory: %v", err)
	}
}
