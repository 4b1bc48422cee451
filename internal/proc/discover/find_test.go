package discover

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPidFromFile(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		content string
		want    int
		err     error
	}{
		{"123\n", 123, nil},
		{"  42  \nsomething else\n", 42, nil},
		{"7", 7, nil},
		{"", 0, ErrBadPidfile},
		{"\n12\n", 0, ErrBadPidfile},
		{"abc\n", 0, ErrBadPidfile},
		{"12abc\n", 0, ErrBadPidfile},
		{"-5\n", 0, ErrBadPidfile},
		{"+5\n", 0, ErrBadPidfile},
		{"0\n", 0, ErrBadPidfile},
		{"99999999999\n", 0, ErrBadPidfile},
		{strings.Repeat("9", 10000), 0, ErrBadPidfile},
	}
	for i, tc := range cases {
		path := filepath.Join(dir, "p"+string(rune('a'+i)))
		if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := PidFromFile(path)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("PidFromFile(%q) = %d, %v; want %d, %v", tc.content, got, err, tc.want, tc.err)
		}
	}
	_, err := PidFromFile(filepath.Join(dir, "missing"))
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrBadPidfile) {
		t.Errorf("missing pidfile: %v, want fs.ErrNotExist", err)
	}
	_, err = PidFromFile(dir)
	if err == nil {
		t.Error("PidFromFile(a directory) succeeded")
	}
}
