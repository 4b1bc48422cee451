package proc

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCgroup2Mount(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	hybrid := write("hybrid", `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw
`)
	mnt, root, err := cgroup2Mount(hybrid)
	if err != nil || mnt != "/sys/fs/cgroup/unified" || root != "/" {
		t.Errorf("hybrid: %q %q %v", mnt, root, err)
	}
	escaped := write("escaped", `50 1 0:40 /a\040b /mnt/cg\040two rw - cgroup2 cgroup2 rw
`)
	mnt, root, err = cgroup2Mount(escaped)
	if err != nil || mnt != "/mnt/cg two" || root != "/a b" {
		t.Errorf("escaped: %q %q %v", mnt, root, err)
	}
	if _, _, err := cgroup2Mount(write("v1", "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n")); err == nil {
		t.Error("v1 only: no error")
	}

	own, err := ownCgroup(write("cgroup", "4:memory:/x\n0::/system.slice/respawn.service\n"))
	if err != nil || own != "/system.slice/respawn.service" {
		t.Errorf("ownCgroup: %q %v", own, err)
	}
	if _, err := ownCgroup(write("cgroup-v1", "4:memory:/x\n")); err == nil {
		t.Error("no 0:: line: no error")
	}
}

func TestParsePopulated(t *testing.T) {
	for in, want := range map[string]bool{"populated 1\nfrozen 0\n": true, "populated 0\nfrozen 0\n": false} {
		if got, err := parsePopulated([]byte(in)); err != nil || got != want {
			t.Errorf("parsePopulated(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := parsePopulated([]byte("frozen 0\n")); err == nil {
		t.Error("no populated line: no error")
	}
}
