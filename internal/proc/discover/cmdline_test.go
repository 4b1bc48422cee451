package discover

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"testing"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

func TestParseProcargs2(t *testing.T) {
	// argc 2, the path and its padding, the arguments, then the environment.
	b := binary.LittleEndian.AppendUint32(nil, 2)
	b = append(b, "/usr/bin/nginx\x00\x00\x00\x00nginx\x00-g daemon off;\x00HOME=/var/root\x00\x00"...)
	args, err := parseProcargs2(b)
	if err != nil || string(args) != "nginx\x00-g daemon off;\x00" {
		t.Fatalf("parseProcargs2 = %q, %v", args, err)
	}
	if !matchArgs(regexp.MustCompile(`^nginx -g daemon`), args) || matchArgs(regexp.MustCompile(`HOME`), args) {
		t.Error("matched the environment, or not the arguments")
	}
	for _, bad := range [][]byte{nil, {2, 0}, append(binary.LittleEndian.AppendUint32(nil, 3), "/x\x00a\x00b\x00"...)} {
		if _, err := parseProcargs2(bad); !errors.Is(err, errProcargs) {
			t.Errorf("parseProcargs2(%q): %v, want errProcargs", bad, err)
		}
	}
	if matchArgs(regexp.MustCompile(``), []byte("\x00\x00")) {
		t.Error("an empty command line matched")
	}
}

func TestDescends(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 60 & echo $!; wait")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var pid int
	if _, err := fmt.Fscan(out, &pid); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if !Descends(pid, os.Getpid()) || !Descends(pid, cmd.Process.Pid) || !Descends(cmd.Process.Pid, cmd.Process.Pid) {
		t.Errorf("the sleep %d does not descend from us or from its shell %d", pid, cmd.Process.Pid)
	}
	if Descends(os.Getpid(), cmd.Process.Pid) || Descends(0, 1) {
		t.Error("we descend from our child, or pid 0 from 1")
	}
}

// TestMatching scans the processes as macOS and FreeBSD do, reading command
// lines from /proc here.
func TestMatching(t *testing.T) {
	cmd := exec.Command("sleep", "60.4242")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	all, err := observe.All()
	if err != nil {
		t.Fatal(err)
	}
	procArgs := func(pid int) ([]byte, error) { return os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline") }
	// Our own command line does not hold the pattern; the sleep's does.
	if got := matching(regexp.MustCompile(`^sleep 60\.4242$`), all, procArgs); !slices.Equal(got, []int{cmd.Process.Pid}) {
		t.Fatalf("matching = %v, want [%d]", got, cmd.Process.Pid)
	}
	// Our ancestors are skipped even when they match.
	if got := matching(regexp.MustCompile(`.`), all, procArgs); slices.Contains(got, os.Getpid()) || slices.Contains(got, os.Getppid()) {
		t.Fatalf("matching found ourselves or our parent: %v", got)
	}
}
