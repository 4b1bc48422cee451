package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if os.Getenv("BENCH_TEST_CHILD") == "sleep" {
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A child running the supervisor's executable counts as the supervisor's
// own once it has run a second, not while it may still be a fork on its way
// to a service's exec.
func TestOwnProcessesSkipsAChildJustForked(t *testing.T) {
	testSkipsAChildJustForked(t, ownProcesses)
}

// The same for a supervisor made of several programs (s6, daemontools).
func TestProcessesRunningSkipsAChildJustForked(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	testSkipsAChildJustForked(t, func(root int) ([]int, error) { return processesRunning(root, filepath.Base(self)) })
}

// A program the parent does not run counts from its start: a supervise that
// svscan started a moment ago is one of daemontools' own.
func TestProcessesRunningCountsAYoungProgramOfItsOwn(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sleep, "30")
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// The child runs sleep once exec'd; until then it runs this binary, whose
	// name is not asked for. It must count before it is a second old: after,
	// the age rule alone would count it.
	deadline := started.Add(900 * time.Millisecond)
	for {
		own, err := processesRunning(os.Getpid(), filepath.Base(self), filepath.Base(sleep))
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(own, cmd.Process.Pid) {
			if exePath(cmd.Process.Pid) == self {
				t.Fatalf("a child between fork and exec counted: %v", own)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a sleep of its own, exec'd, not counted %v after its start: %v", time.Since(started), own)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testSkipsAChildJustForked(t *testing.T, ownProcesses func(root int) ([]int, error)) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "BENCH_TEST_CHILD=sleep")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	started := time.Now()
	own, err := ownProcesses(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(own, cmd.Process.Pid) && time.Since(started) < 900*time.Millisecond {
		t.Fatalf("a child %v old counted as the supervisor's own: %v", time.Since(started), own)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(own, cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatalf("a child running for %v still not counted: %v", time.Since(started), own)
		}
		time.Sleep(100 * time.Millisecond)
		if own, err = ownProcesses(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	if own[0] != os.Getpid() {
		t.Errorf("own processes %v do not start with the root", own)
	}
}
