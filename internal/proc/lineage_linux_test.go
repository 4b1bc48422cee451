package proc

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/proc/discover"
	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// A service's sender is told by its parents: the main process, a child, a
// grandchild whose parent died (re-parented, but still in the group) count;
// the supervisor itself and a process of another tree do not.
func TestDescends(t *testing.T) {
	m := newManager(t, true)
	// sh starts a child that starts a grandchild and exits: the grandchild is
	// re-parented away from the main process but stays in its group.
	p := spawn(t, m, shSpec("lineage", `sh -c 'sleep 300 & echo $!' ; sleep 300 & echo $!; wait`))
	t.Cleanup(func() { p.KillTree() })
	if err := p.Stdout().SetReadDeadline(time.Now().Add(deadline)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(p.Stdout())
	var pids [2]int
	for i := range pids {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read pid: %v", err)
		}
		pids[i], _ = strconv.Atoi(strings.TrimSpace(line))
	}
	orphan, child := pids[0], pids[1]
	waitFor(t, "the grandchild re-parented", func() bool {
		st, ok := observe.Read(orphan)
		if !ok {
			return false
		}
		parent, ok := observe.Read(st.Ppid)
		return st.Ppid != p.Pid() && (!ok || parent.Ppid != p.Pid())
	})
	if orphan == 0 || child == 0 {
		t.Fatalf("pids %d %d", orphan, child)
	}
	other := spawn(t, m, shSpec("other", "exec sleep 300"))
	t.Cleanup(func() { other.KillTree() })
	for _, c := range []struct {
		pid  int
		want bool
	}{
		{p.Pid(), true}, {child, true}, {orphan, true},
		{os.Getpid(), false}, {other.Pid(), false}, {1, false}, {0, false}, {-1, false},
	} {
		if got := discover.Descends(c.pid, p.Pid()); got != c.want {
			t.Errorf("discover.Descends(%d, %d) = %v, want %v", c.pid, p.Pid(), got, c.want)
		}
	}
	own, err := discover.CgroupOf(os.Getpid())
	if err != nil || !strings.HasPrefix(own, "/") {
		t.Errorf("discover.CgroupOf(self) = %q, %v", own, err)
	}
}

func TestInCgroup(t *testing.T) {
	for _, c := range []struct {
		path, dir string
		want      bool
	}{
		{"/a/respawn-x/web", "/a/respawn-x/web", true},
		{"/a/respawn-x/web/sub", "/a/respawn-x/web", true},
		{"/a/respawn-x/webapp", "/a/respawn-x/web", false},
		{"/a/respawn-x", "/a/respawn-x/web", false},
	} {
		if got := discover.InCgroup(c.path, c.dir); got != c.want {
			t.Errorf("discover.InCgroup(%q, %q) = %v, want %v", c.path, c.dir, got, c.want)
		}
	}
}
