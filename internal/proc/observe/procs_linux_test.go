package observe

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"testing"
)

func TestOfSelfAndNone(t *testing.T) {
	st, err := Of(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.Ppid != os.Getppid() || st.Start == 0 || st.RSS == 0 {
		t.Errorf("own stat %+v: want parent %d, a start time and memory", st, os.Getppid())
	}
	if _, err := Of(0); !errors.Is(err, ErrInvalidPid) {
		t.Errorf("pid 0: %v, want ErrInvalidPid", err)
	}
	// Beyond pid_max (4194304 at most): no such process.
	if _, err := Of(1 << 23); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("a pid that cannot exist: %v, want os.ErrProcessDone", err)
	}
	if _, ok := Read(1 << 23); ok {
		t.Error("Read found a pid that cannot exist")
	}
}

func TestChildren(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if !slices.Contains(Children(os.Getpid()), cmd.Process.Pid) {
		t.Errorf("Children(self) = %v, missing %d", Children(os.Getpid()), cmd.Process.Pid)
	}
	st, ok := Read(cmd.Process.Pid)
	if !ok || st.Ppid != os.Getpid() {
		t.Errorf("child stat %+v %v: want parent %d", st, ok, os.Getpid())
	}
	start, err := StartTime(cmd.Process.Pid)
	if err != nil || start != st.Start {
		t.Errorf("StartTime = %d, %v; stat says %d", start, err, st.Start)
	}
}

func TestAllAndGroup(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(all, func(st Stat) bool { return st.Pid == cmd.Process.Pid })
	if i < 0 || all[i].Comm != "sleep" || all[i].Ppid != os.Getpid() {
		t.Fatalf("All: the child %d not listed as sleep, child of %d (index %d)", cmd.Process.Pid, os.Getpid(), i)
	}
	own, _ := Read(os.Getpid())
	group, err := Group(own.Pgrp)
	if err != nil {
		t.Fatal(err)
	}
	// The child inherited our group.
	if !slices.ContainsFunc(group, func(st Stat) bool { return st.Pid == cmd.Process.Pid }) {
		t.Errorf("Group(%d) misses the child %d", own.Pgrp, cmd.Process.Pid)
	}
	for _, st := range group {
		if st.Pgrp != own.Pgrp {
			t.Errorf("Group(%d) lists pid %d of group %d", own.Pgrp, st.Pid, st.Pgrp)
		}
	}
	if _, err := Group(0); !errors.Is(err, ErrInvalidPid) {
		t.Errorf("Group(0): %v, want ErrInvalidPid", err)
	}
}
