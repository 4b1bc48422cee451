package discover

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
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
