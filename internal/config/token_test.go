package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestWeakTokenFileIsAConfigError(t *testing.T) {
	const src = "version: 1\nsupervisor:\n  http: {token_file: secret.token}\nservices: {}\n"
	tests := []struct {
		name, content string
		want          []string
	}{
		{"one byte", "x\n", []string{"r.yaml:3:22: supervisor.http.token_file: DIR/secret.token is too easy to guess: the token is 1 characters, about 6 bits; it needs at least 128 bits: 22 characters or more; make one with: (umask 077; head -c 32 /dev/urandom | base64 > DIR/secret.token)"}},
		{"empty", " \n", []string{"r.yaml:3:22: supervisor.http.token_file: DIR/secret.token is empty; make a token with: (umask 077; head -c 32 /dev/urandom | base64 > DIR/secret.token)"}},
		{"short hex", "0123456789abcdef\n", []string{"r.yaml:3:22: supervisor.http.token_file: DIR/secret.token is too easy to guess: the token is 16 hexadecimal digits, about 64 bits; it needs at least 128 bits: 32 hexadecimal digits or more; make one with: (umask 077; head -c 32 /dev/urandom | base64 > DIR/secret.token)"}},
		{"base64 of 32 random bytes", "n2Vb0bJ3nq0w8yL0bYwq3m3vJp6c3r1sQm2yQ3yq4x8=\n", nil},
		{"32 hex digits", "0123456789abcdef0123456789ABCDEF\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, dir, err := parseIn(t, src, nil, map[string]string{"secret.token": tt.content})
			var got []string
			if err != nil {
				got = strings.Split(strings.ReplaceAll(err.Error(), dir, "DIR"), "\n")
				got[0] = strings.TrimPrefix(got[0], "DIR/")
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// A token file the loading user cannot read is up's to judge: status and
// the other commands load the config too, often as a user the token is
// hidden from.
func TestUnreadableTokenFileIsLeftToUp(t *testing.T) {
	const src = "version: 1\nsupervisor:\n  http: {token_file: secret.token}\nservices: {}\n"
	if _, _, err := parseIn(t, src, nil, nil); err != nil {
		t.Errorf("missing token file: %v", err)
	}
	if os.Geteuid() == 0 {
		return // root reads any file
	}
	_, dir, err := parseIn(t, src, nil, map[string]string{"secret.token": "x\n"})
	if err == nil {
		t.Fatal("weak readable token accepted")
	}
	if err := os.Chmod(filepath.Join(dir, "secret.token"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(filepath.Join(dir, "r.yaml"), []byte(src), nil); err != nil {
		t.Errorf("unreadable token file: %v", err)
	}
}
