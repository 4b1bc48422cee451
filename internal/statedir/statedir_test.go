package statedir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// nobody is a uid other than ours, for the tests that run as root.
const nobody = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: files owned by another user are made with chown")
	}
}

// refused fails the test unless err is a refusal whose message holds every part.
func refused(t *testing.T, err error, parts ...string) {
	t.Helper()
	if !errors.Is(err, ErrUnsafe) {
		t.Fatalf("got %v, want a refusal (ErrUnsafe)", err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("refusal %q does not say %q", err, p)
		}
	}
}

func mustOpen(t *testing.T, path string) *Dir {
	t.Helper()
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestOpenCreatesPrivateDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "state")
	d := mustOpen(t, path)
	fi, err := os.Lstat(path)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state dir: %v, %v; want a 0700 dir", fi, err)
	}
	if d.Path() != path {
		t.Errorf("Path() = %s", d.Path())
	}
	// An existing dir of ours that others could read is closed up.
	loose := filepath.Join(t.TempDir(), "loose")
	if err := os.Mkdir(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o777); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, loose)
	// Search permission stays (a service's user reaches its notify socket
	// through it); reading and writing are taken away.
	if fi, _ := os.Stat(loose); fi.Mode().Perm() != 0o711 {
		t.Errorf("existing state dir left %v, want 0711", fi.Mode().Perm())
	}
	if err := os.Chmod(loose, 0o764); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, loose)
	if fi, _ := os.Stat(loose); fi.Mode().Perm() != 0o700 {
		t.Errorf("existing state dir left %v, want 0700", fi.Mode().Perm())
	}
	sub, err := d.Sub("logs")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if fi, err := os.Lstat(filepath.Join(path, "logs")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("logs dir: %v, %v; want 0700", fi, err)
	}
}

func TestOpenRefusesSymlinkedStateDir(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "state")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	_, err := Open(link)
	refused(t, err, link, "is a symlink")
	// A file where the dir should be.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(file)
	refused(t, err, "is not a directory")
}

func TestOpenRefusesWritableParentButNotSticky(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	sticky := filepath.Join(dir, "sticky")
	group := filepath.Join(dir, "group")
	for p, mode := range map[string]os.FileMode{open: 0o777, sticky: 0o777 | os.ModeSticky, group: 0o775} {
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Open(filepath.Join(open, "app", "state"))
	refused(t, err, open, "writable by every user")
	if _, err := os.Lstat(filepath.Join(open, "app")); err == nil {
		t.Error("a parent of the refused state dir was created below the unsafe one")
	}
	mustOpen(t, filepath.Join(sticky, "state"))
	if os.Getegid() == 0 || os.Geteuid() == 0 {
		if err := os.Chown(group, -1, nobody); err != nil {
			t.Fatal(err)
		}
		_, err = Open(filepath.Join(group, "state"))
		refused(t, err, group, "writable by group")
	}
}

func TestOpenRefusesOtherUsers(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	// The case: the app user owns the folder the config lives in.
	app := filepath.Join(dir, "app")
	if err := os.Mkdir(app, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(app, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	_, err := Open(filepath.Join(app, ".respawn"))
	refused(t, err, app, "owned by", "65534", "supervisor.state_dir")
	// A state dir owned by another user in a safe parent.
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(state, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	_, err = Open(state)
	refused(t, err, state, "is owned by", "65534")
	if fi, _ := os.Stat(state); fi.Sys().(*syscall.Stat_t).Uid != nobody || fi.Mode().Perm() != 0o700 {
		t.Error("the refused state dir was changed")
	}
}

func TestFilesNeverFollowSymlinks(t *testing.T) {
	dir := t.TempDir()
	d := mustOpen(t, filepath.Join(dir, "state"))
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"log", "lock", "crash", "dirlink"} {
		if err := os.Symlink(target, d.Join(name)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := d.OpenAppend("log", 0o600)
	refused(t, err, d.Join("log"), "is a symlink")
	_, err = d.OpenRW("lock", 0o600)
	refused(t, err, "is a symlink")
	_, err = d.Open("lock")
	refused(t, err, "is a symlink")
	// Create replaces the link itself.
	f, err := d.Create("crash", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("new\n")
	f.Close()
	if fi, err := os.Lstat(d.Join("crash")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("crash after Create: %v, %v; want a regular file", fi, err)
	}
	if err := d.WriteFile("lock", []byte("1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := d.ReadFile("lock", 10); string(b) != "1\n" {
		t.Errorf("lock holds %q", b)
	}
	// A symlinked subdirectory is refused.
	if err := os.Symlink(dir, d.Join("logs")); err != nil {
		t.Fatal(err)
	}
	_, err = d.Sub("logs")
	refused(t, err, "is a symlink")
	if err := d.CheckSubdir("logs"); !errors.Is(err, ErrUnsafe) {
		t.Errorf("CheckSubdir of a symlink: %v", err)
	}
	if err := d.CheckSubdir("missing"); err != nil {
		t.Errorf("CheckSubdir of a missing dir: %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious\n" {
		t.Errorf("the symlinks' target changed: %q", b)
	}
	// Other kinds of files, and names that are not one element.
	if err := syscall.Mkfifo(d.Join("fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = d.OpenAppend("fifo", 0o600) // must not block
	refused(t, err, "not a regular file")
	if err := os.Link(d.Join("crash"), d.Join("hard")); err != nil {
		t.Fatal(err)
	}
	_, err = d.OpenAppend("hard", 0o600)
	refused(t, err, "hard links")
	for _, bad := range []string{"../x", "a/b", "..", ""} {
		if _, err := d.OpenAppend(bad, 0o600); err == nil {
			t.Errorf("OpenAppend(%q) accepted", bad)
		}
	}
}

func TestFilesOwnedByOthersAreRefused(t *testing.T) {
	needRoot(t)
	d := mustOpen(t, filepath.Join(t.TempDir(), "state"))
	if err := os.WriteFile(d.Join("pids"), []byte("1 1 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(d.Join("pids"), nobody, nobody); err != nil {
		t.Fatal(err)
	}
	_, err := d.Open("pids")
	refused(t, err, "owned by")
}

func TestRemoveSocketRemovesOnlyOurSockets(t *testing.T) {
	d := mustOpen(t, filepath.Join(t.TempDir(), "state"))
	// Rotation counts on a missing name being an error.
	if err := d.Remove("none"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Remove of a missing file: %v, want fs.ErrNotExist", err)
	}
	if err := d.Rename("none", "other"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Rename of a missing file: %v, want fs.ErrNotExist", err)
	}
	if err := d.RemoveSocket("none.sock"); err != nil {
		t.Errorf("missing socket: %v", err)
	}
	if err := os.WriteFile(d.Join("file.sock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	refused(t, d.RemoveSocket("file.sock"), "not a socket")
	if _, err := os.Lstat(d.Join("file.sock")); err != nil {
		t.Error("a file that is not a socket was removed")
	}
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: d.Join("s.sock")}); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveSocket("s.sock"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(d.Join("s.sock")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale socket left: %v", err)
	}
}

func TestCheckTreeRefusesWhatWeDidNotMake(t *testing.T) {
	d := mustOpen(t, filepath.Join(t.TempDir(), "state"))
	logs, err := d.Sub("logs")
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	f, err := logs.OpenAppend("web.log", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: d.Join("respawn.sock")}); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckTree(); err != nil {
		t.Fatalf("a tree of ours: %v", err)
	}
	for _, plant := range []struct {
		name string
		make func(path string) error
		why  string
	}{
		{"logs/api.log", func(p string) error { return os.Symlink("/etc/passwd", p) }, "is a symlink"},
		{"events.jsonl", func(p string) error { return syscall.Mkfifo(p, 0o600) }, "not a regular file"},
		{"keeper.pids", func(p string) error { return os.Link(logs.Join("web.log"), p) }, "hard links"},
	} {
		path := filepath.Join(d.Path(), plant.name)
		if err := plant.make(path); err != nil {
			t.Fatal(err)
		}
		refused(t, d.CheckTree(), path, plant.why)
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(logs.Join("web.log"), nobody, nobody); err != nil {
			t.Fatal(err)
		}
		refused(t, d.CheckTree(), logs.Join("web.log"), "owned by")
	}
}
