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
