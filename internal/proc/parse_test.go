package proc

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
)

func TestSettingsRoundTrip(t *testing.T) {
	mask := uint32(0o027)
	cases := []trampolineSettings{
		{ppid: 1},
		{ppid: 42, umask: &mask},
		{ppid: 7, rlimits: []Rlimit{{Resource: "nofile", Soft: 1, Hard: 2}, {Resource: "core", Soft: 0, Hard: ^uint64(0)}}},
		{ppid: 9, creds: creds{set: true, uid: 65534, gid: 65534, groups: []uint32{65534, 27}}},
		{ppid: 9, creds: creds{set: true, uid: 1, gid: 2}},
	}
	for _, want := range cases {
		got, err := decodeSettings(want.encode())
		if err != nil {
			t.Errorf("decode(%q): %v", want.encode(), err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip of %q: got %+v, want %+v", want.encode(), got, want)
		}
	}
	for _, bad := range []string{"", "p", "p=x", "m=9", "r=nofile:1", "r=nofile:a:b", "u=-1", "G=1,x", "z=1"} {
		if _, err := decodeSettings(bad); err == nil {
			t.Errorf("decode(%q) succeeded", bad)
		}
	}
}

func TestFailureReport(t *testing.T) {
	e := decodeFailure(encodeFailure("rlimit", "nofile", syscall.EPERM))
	if e.Op != "rlimit" || e.Path != "nofile" || !errors.Is(e, syscall.EPERM) {
		t.Errorf("errno report: %+v", e)
	}
	e = decodeFailure(encodeFailure("exec", "x", errors.New("odd")))
	if e.Err.Error() != "odd" {
		t.Errorf("text report: %+v", e)
	}
	if e := decodeFailure([]byte("garbage")); e.Op != "exec" || e.Err == nil {
		t.Errorf("garbled report: %+v", e)
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tool")
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(exe, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		file string
		env  []string
		want string
		err  error
	}{
		{"tool", []string{"PATH=/nonexistent:" + dir}, exe, nil},
		{"tool", []string{"PATH=" + dir, "PATH=/nonexistent"}, exe, nil}, // first PATH wins
		{"tool", []string{"PATH=."}, "", syscall.ENOENT},                 // relative entries are skipped
		{"plain", []string{"PATH=" + dir}, "", syscall.EACCES},
		{"sub", []string{"PATH=" + dir}, "", syscall.ENOENT},
		{"./rel/x", nil, "./rel/x", nil},
		{"", []string{"PATH=" + dir}, "", syscall.ENOENT},
	}
	for _, tc := range cases {
		got, err := lookPath(tc.file, tc.env, accountOf(creds{}))
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("lookPath(%q, %q) = %q, %v; want %q, %v", tc.file, tc.env, got, err, tc.want, tc.err)
		}
	}
}

func TestSpawnErrorText(t *testing.T) {
	err := error(&SpawnError{Op: "exec", Path: "./missing", Err: syscall.ENOENT})
	if got := err.Error(); got != "exec ./missing: no such file or directory" {
		t.Errorf("Error() = %q", got)
	}
	err = &SpawnError{Op: "user", Path: "bob", Err: &unknownIDError{kind: "user"}}
	if got := err.Error(); got != "user bob: no such user" {
		t.Errorf("Error() = %q", got)
	}
}
