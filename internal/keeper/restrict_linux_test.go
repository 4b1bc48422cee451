package keeper

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A socket file's mode and owner are set on the socket only: a symlink or a
// hard link swapped in for it (in a folder another user can write) is
// refused and what it leads to is left as it was.
func TestSetSocketFileChangesTheSocketOnly(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "app.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := setSocketFile(sock, 0o660, os.Getuid(), 65534); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want 0660", fi.Mode().Perm())
	}
	if os.Getuid() == 0 && fi.Sys().(*syscall.Stat_t).Gid != 65534 {
		t.Errorf("socket group %d, want 65534", fi.Sys().(*syscall.Stat_t).Gid)
	}

	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.sock")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	hard := filepath.Join(dir, "hard.sock")
	if err := os.Link(secret, hard); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, hard} {
		if _, err := setSocketFile(p, 0o666, 65534, 65534); err == nil {
			t.Errorf("%s: changed, want refused", filepath.Base(p))
		}
	}
	fi, err = os.Stat(secret)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || int(fi.Sys().(*syscall.Stat_t).Uid) != os.Getuid() {
		t.Errorf("the file behind the links: mode %v uid %d, want 0600 and ours", fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Uid)
	}
}
