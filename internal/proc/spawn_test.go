//go:build linux

package proc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestExitCodeAndSignal(t *testing.T) {
	eachMode(t, func(t *testing.T, m *Manager) {
		_, exit := run(t, m, shSpec("code", "exit 3"))
		if exit.Code != 3 || exit.Signal != 0 {
			t.Errorf("exit 3: got %+v", exit)
		}
		if exit.String() != "exit status 3" {
			t.Errorf("String() = %q", exit.String())
		}
		_, exit = run(t, m, shSpec("signal", "kill -TERM $$"))
		if exit.Code != -1 || exit.Signal != int(syscall.SIGTERM) {
			t.Errorf("kill -TERM: got %+v", exit)
		}
		if exit.At.IsZero() {
			t.Error("Exit.At not set")
		}
	})
}

func TestOutputPipes(t *testing.T) {
	m := newManager(t, false)
	p := spawn(t, m, shSpec("pipes", "echo out; echo err >&2; readlink /proc/$$/fd/0"))
	errOut := readAll(t, p.Stderr())
	out := readAll(t, p.Stdout())
	if out != "out\n/dev/null\n" {
		t.Errorf("stdout = %q, want out and /dev/null as stdin", out)
	}
	if errOut != "err\n" {
		t.Errorf("stderr = %q", errOut)
	}
	if exit := waitDone(t, p); exit.Code != 0 {
		t.Errorf("exit = %v", exit)
	}
	if p.StartedAt().IsZero() || p.Pid() <= 0 {
		t.Errorf("StartedAt %v, Pid %d", p.StartedAt(), p.Pid())
	}
}

func TestEnvAndDir(t *testing.T) {
	m := newManager(t, false)
	dir := t.TempDir()
	spec := shSpec("env", `echo "$FOO"; pwd; echo "${HOME-unset}"`)
	spec.Env = append(spec.Env, "FOO=bar baz")
	spec.Dir = dir
	out, exit := run(t, m, spec)
	want := "bar baz\n" + dir + "\nunset\n"
	if out != want || exit.Code != 0 {
		t.Errorf("got %q (%v), want %q", out, exit, want)
	}
}

func TestPathOfSpecEnv(t *testing.T) {
	m := newManager(t, true)
	dir := t.TempDir()
	script := filepath.Join(dir, "hello-respawn")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hi from $0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, exit := run(t, m, Spec{Name: "path", Args: []string{"hello-respawn"}, Env: []string{"PATH=/nonexistent:relative:" + dir}})
	if out != "hi from "+script+"\n" || exit.Code != 0 {
		t.Errorf("got %q (%v)", out, exit)
	}
}

// TestConcurrentSpawns checks that no exit status is lost, duplicated or
// handed to the wrong process.
func TestConcurrentSpawns(t *testing.T) {
	eachMode(t, func(t *testing.T, m *Manager) {
		const n = 300
		reaper.mu.Lock()
		before := reaper.reaped
		reaper.mu.Unlock()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				p, err := m.Spawn(Spec{Name: fmt.Sprintf("quick-%d", i), Args: []string{"sh", "-c", fmt.Sprintf("exit %d", i%100)}, Env: testEnv()})
				if err != nil {
					errs <- err
					return
				}
				p.Stdout().Close()
				p.Stderr().Close()
				if exit := waitDone(t, p); exit.Code != i%100 || exit.Signal != 0 {
					errs <- fmt.Errorf("spawn %d (pid %d): got %v, want exit status %d", i, p.Pid(), exit, i%100)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		reaper.mu.Lock()
		got := reaper.reaped - before
		reaper.mu.Unlock()
		if got != n {
			t.Errorf("reaper dispatched %d statuses, want %d", got, n)
		}
	})
}

func TestSpawnErrors(t *testing.T) {
	m := newManager(t, false)
	dir := t.TempDir()
	plain := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mask := uint32(0o022)
	cases := []struct {
		name   string
		spec   Spec
		op     string
		target error
		text   string // the whole Error() when not empty
	}{
		{"missing in PATH", Spec{Args: []string{"no-such-command-respawn"}, Env: testEnv()}, "exec", fs.ErrNotExist,
			"exec no-such-command-respawn: no such file or directory"},
		{"missing path", Spec{Args: []string{"./missing"}, Dir: dir}, "exec", fs.ErrNotExist,
			"exec ./missing: no such file or directory"},
		{"missing path via trampoline", Spec{Args: []string{"./missing"}, Dir: dir, Umask: &mask}, "exec", fs.ErrNotExist,
			"exec ./missing: no such file or directory"},
		{"not executable", Spec{Args: []string{plain}}, "exec", syscall.EACCES, ""},
		{"not executable in PATH", Spec{Args: []string{"not-executable"}, Env: []string{"PATH=" + dir}}, "exec", syscall.EACCES, ""},
		{"missing dir", Spec{Args: []string{"true"}, Env: testEnv(), Dir: filepath.Join(dir, "nope")}, "chdir", fs.ErrNotExist, ""},
		{"dir is a file", Spec{Args: []string{"true"}, Env: testEnv(), Dir: plain}, "chdir", syscall.ENOTDIR, ""},
		{"unknown user", Spec{Args: []string{"true"}, Env: testEnv(), User: "no-such-user-respawn"}, "user", fs.ErrNotExist,
			"user no-such-user-respawn: no such user"},
		{"unknown group", Spec{Args: []string{"true"}, Env: testEnv(), Group: "no-such-group-respawn"}, "group", fs.ErrNotExist, ""},
		{"no args", Spec{}, "exec", ErrNoCommand, ""},
		{"unknown rlimit", Spec{Args: []string{"true"}, Env: testEnv(), Rlimits: []Rlimit{{Resource: "bogus"}}}, "rlimit", ErrUnknownRlimit, ""},
		{"soft above hard", Spec{Args: []string{"true"}, Env: testEnv(), Rlimits: []Rlimit{{Resource: "nofile", Soft: 10, Hard: 5}}}, "rlimit", ErrInvalidRlimit, ""},
		// Above fs.nr_open even root may not go: the trampoline reports it.
		{"rlimit refused", Spec{Args: []string{"true"}, Env: testEnv(), Rlimits: []Rlimit{{Resource: "nofile", Soft: 1 << 40, Hard: 1 << 40}}}, "rlimit", syscall.EPERM, ""},
		{"bad umask", Spec{Args: []string{"true"}, Env: testEnv(), Umask: new(uint32(0o1000))}, "umask", syscall.EINVAL, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Name = fmt.Sprintf("err-%d", i)
			p, err := m.Spawn(tc.spec)
			if err == nil {
				p.Stdout().Close()
				p.Stderr().Close()
				waitDone(t, p)
				t.Fatal("Spawn succeeded")
			}
			var se *SpawnError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *SpawnError", err, err)
			}
			if se.Op != tc.op {
				t.Errorf("Op = %q, want %q (%v)", se.Op, tc.op, err)
			}
			if !errors.Is(err, tc.target) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.target)
			}
			if tc.text != "" && err.Error() != tc.text {
				t.Errorf("Error() = %q, want %q", err.Error(), tc.text)
			}
		})
	}
}

func TestInvalidNames(t *testing.T) {
	m := newManager(t, true)
	for _, name := range []string{"", ".", "..", "a/b", "cgroup.procs", "a\nb", strings.Repeat("x", 256)} {
		_, err := m.Spawn(Spec{Name: name, Args: []string{"true"}, Env: testEnv()})
		var se *SpawnError
		if !errors.As(err, &se) || se.Op != "name" || !errors.Is(err, ErrInvalidName) {
			t.Errorf("name %q: got %v, want a name SpawnError", name, err)
		}
	}
	if _, err := NewManager(Options{InstanceID: "a/b"}); !errors.Is(err, ErrInvalidInstanceID) {
		t.Errorf("NewManager with a slash in InstanceID: %v", err)
	}
	if _, err := NewManager(Options{}); !errors.Is(err, ErrInvalidInstanceID) {
		t.Errorf("NewManager without InstanceID: %v", err)
	}
}

func TestNoTrampoline(t *testing.T) {
	m, err := NewManager(Options{InstanceID: fmt.Sprintf("test%d-notramp", os.Getpid()), NoCgroup: true, Self: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupManager(t, m) })
	mask := uint32(0o077)
	_, err = m.Spawn(Spec{Name: "x", Args: []string{"true"}, Env: testEnv(), Umask: &mask})
	if !errors.Is(err, ErrNoTrampoline) {
		t.Fatalf("Spawn with a Self that is no trampoline: %v", err)
	}
}

func TestUmaskAndRlimits(t *testing.T) {
	eachMode(t, func(t *testing.T, m *Manager) {
		mask := uint32(0o027)
		spec := shSpec("limits", "umask; ulimit -n; ulimit -Hn; ulimit -c")
		spec.Umask = &mask
		spec.Rlimits = []Rlimit{{Resource: "nofile", Soft: 123, Hard: 456}, {Resource: "core", Soft: 0, Hard: 0}}
		out, exit := run(t, m, spec)
		if want := "0027\n123\n456\n0\n"; out != want || exit.Code != 0 {
			t.Errorf("got %q (%v), want %q", out, exit, want)
		}
	})
}

func TestCredentials(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch users")
	}
	if _, _, err := lookupUser("nobody"); err != nil {
		t.Skip("no user nobody")
	}
	m := newManager(t, false)
	mask := uint32(0o077)
	for _, viaTrampoline := range []bool{false, true} {
		spec := shSpec("as-nobody", `id -u; id -G; echo "$HOME $USER $LOGNAME"; umask`)
		spec.User = "nobody"
		want := "65534\n65534\n/nonexistent nobody nobody\n0022\n"
		if viaTrampoline {
			spec.Umask = &mask
			want = strings.Replace(want, "0022", "0077", 1)
		}
		old := syscall.Umask(0o022)
		out, exit := run(t, m, spec)
		syscall.Umask(old)
		if out != want || exit.Code != 0 {
			t.Errorf("trampoline %v: got %q (%v), want %q", viaTrampoline, out, exit, want)
		}
	}
}

func TestResolveCreds(t *testing.T) {
	if _, _, err := lookupUser("root"); err != nil {
		t.Skip("no user root")
	}
	nonRoot := identity{uid: 1000, gid: 1000}
	cases := []struct {
		user, group string
		self        identity
		op          string // expected SpawnError Op, "" for success
		want        creds
	}{
		{"root", "", nonRoot, "user", creds{}},
		{"1000", "0", nonRoot, "group", creds{}},
		{"1000", "", nonRoot, "", creds{uid: 1000, gid: 1000}},
		{"", "1000", nonRoot, "", creds{uid: 1000, gid: 1000}},
		{"54321", "", identity{}, "", creds{set: true, uid: 54321, gid: 54321}},
		{"54321", "7", identity{}, "", creds{set: true, uid: 54321, gid: 7}},
		{"", "7", identity{}, "", creds{set: true, uid: 0, gid: 7}},
	}
	for _, tc := range cases {
		c, err := resolveCreds(tc.user, tc.group, tc.self)
		if tc.op != "" {
			var se *SpawnError
			if !errors.As(err, &se) || se.Op != tc.op || !errors.Is(err, syscall.EPERM) {
				t.Errorf("%q/%q as %v: got %v, want %s EPERM", tc.user, tc.group, tc.self, err, tc.op)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q/%q: %v", tc.user, tc.group, err)
			continue
		}
		if c.set != tc.want.set || c.uid != tc.want.uid || c.gid != tc.want.gid {
			t.Errorf("%q/%q as %v: got %+v, want %+v", tc.user, tc.group, tc.self, c, tc.want)
		}
	}
}

// A service with `user:` finds its command through PATH as that user would: a
// directory first in PATH that only root can enter (a shim directory in root's
// PATH) is skipped, not chosen and then refused at exec.
func TestPathSearchedAsTheServiceUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch users")
	}
	if _, _, err := lookupUser("nobody"); err != nil {
		t.Skip("no user nobody")
	}
	shims := filepath.Join(t.TempDir(), "shims") // below a 0700 dir: root only
	if err := os.Mkdir(shims, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shims, "sh"), []byte("#!/bin/sh\necho shim\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, false)
	for _, viaTrampoline := range []bool{false, true} {
		spec := Spec{Name: "shimmed", Args: []string{"sh", "-c", "id -u"}, Env: []string{"PATH=" + shims + ":" + os.Getenv("PATH")}, User: "nobody"}
		if viaTrampoline {
			mask := uint32(0o022)
			spec.Umask = &mask
		}
		out, exit := run(t, m, spec)
		if out != "65534\n" || exit.Code != 0 {
			t.Errorf("trampoline %v: got %q (%v), want the real sh run as nobody", viaTrampoline, out, exit)
		}
		// As root, the shim is what PATH finds.
		spec.User = ""
		if out, _ := run(t, m, spec); out != "shim\n" {
			t.Errorf("trampoline %v: as root got %q, want the shim", viaTrampoline, out)
		}
	}
}
