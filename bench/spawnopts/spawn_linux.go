package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"
)

const forkerEnv = "SPAWNOPTS_FORKER"

// procAttr starts prog with stdio on /dev/null and a parent-death signal, as
// a supervisor would.
func procAttr(devnull *os.File, flags uintptr) *syscall.ProcAttr {
	fd := devnull.Fd()
	return &syscall.ProcAttr{Files: []uintptr{fd, fd, fd}, Sys: &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL}}
}

func reap(k int) error {
	for range k {
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(-1, &ws, 0, nil); err != nil {
			return fmt.Errorf("wait4: %w", err)
		}
	}
	return nil
}

func startMany(prog string, k int, a *syscall.ProcAttr) error {
	for range k {
		if _, err := syscall.ForkExec(prog, []string{prog}, a); err != nil {
			return err
		}
	}
	return nil
}

func measure(n, fds, runs int, prog string) ([]result, error) {
	runtime.LockOSThread() // the main thread forks, as the keeper's does
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	options := []struct {
		name string
		run  func() (time.Duration, error)
	}{
		{"one fork thread, stdio only", func() (time.Duration, error) { return oneThread(prog, n, devnull) }},
		{fmt.Sprintf("one fork thread, %d more fds open", fds), func() (time.Duration, error) {
			return withFDs(fds, func() (time.Duration, error) { return oneThread(prog, n, devnull) })
		}},
		{fmt.Sprintf("two fork threads, %d more fds open", fds), func() (time.Duration, error) {
			return withFDs(fds, func() (time.Duration, error) { return twoThreads(prog, n, devnull) })
		}},
		{fmt.Sprintf("forker process (CLONE_PARENT), %d fds in its parent", fds), func() (time.Duration, error) {
			return withFDs(fds, func() (time.Duration, error) { return viaForker(n) })
		}},
	}
	res := make([]result, len(options))
	for r := 0; r < runs; r++ {
		// Options take turns, so that each sees the machine's load alike.
		for i, o := range options {
			d, err := o.run()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", o.name, err)
			}
			res[i].name = o.name
			res[i].all = append(res[i].all, d)
		}
	}
	for i := range res {
		s := slices.Clone(res[i].all)
		slices.Sort(s)
		res[i].median = s[len(s)/2]
	}
	return res, nil
}

func oneThread(prog string, n int, devnull *os.File) (time.Duration, error) {
	t := time.Now()
	err := startMany(prog, n, procAttr(devnull, 0))
	d := time.Since(t)
	return d, errors.Join(err, reap(n))
}

// twoThreads forks from two locked threads at once. A parent-death signal
// follows the thread that forked, so the second thread's children would be
// killed by an exec of the process (an upgrade): a keeper could do this only
// without that signal.
func twoThreads(prog string, n int, devnull *os.File) (time.Duration, error) {
	t := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			errs[g] = startMany(prog, n/2+g*(n%2), procAttr(devnull, 0))
		}()
	}
	wg.Wait()
	d := time.Since(t)
	return d, errors.Join(errors.Join(errs...), reap(n))
}

// withFDs runs fn with k more descriptors open (close-on-exec pipes, as a
// keeper's log pipes are).
func withFDs(k int, fn func() (time.Duration, error)) (time.Duration, error) {
	var held []int
	defer func() {
		for _, fd := range held {
			syscall.Close(fd)
		}
	}()
	for len(held) < k {
		var p [2]int
		if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
			return 0, fmt.Errorf("hold %d fds: %w", k, err)
		}
		held = append(held, p[0], p[1])
	}
	return fn()
}

// viaForker starts a forker (this program again) with a descriptor table of
// four and asks it for n starts, one request and answer each; the children
// are this process's (CLONE_PARENT), reaped here.
func viaForker(n int) (time.Duration, error) {
	sp, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer syscall.Close(sp[0])
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	env := append(os.Environ(), forkerEnv+"=1")
	_, err = syscall.ForkExec(self, append([]string{self}, os.Args[1:]...), &syscall.ProcAttr{Env: env, Files: []uintptr{0, 1, 2, uintptr(sp[1])}})
	syscall.Close(sp[1])
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 8)
	t := time.Now()
	for range n {
		if _, err := syscall.Write(sp[0], []byte{1}); err != nil {
			return 0, err
		}
		if m, err := syscall.Read(sp[0], buf); err != nil || m != 8 {
			return 0, fmt.Errorf("forker answered %d bytes: %v", m, err)
		}
	}
	d := time.Since(t)
	if _, err := syscall.Write(sp[0], []byte{0}); err != nil {
		return 0, err
	}
	return d, reap(n + 1)
}

func serveForker(prog string) {
	runtime.LockOSThread()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		os.Exit(1)
	}
	a := procAttr(devnull, syscall.CLONE_PARENT)
	// Go's ForkExec checks a parent-death signal against the caller's pid,
	// which a CLONE_PARENT child never has for parent: it would kill the
	// child before its exec. A forker must go without (or exec by other means).
	a.Sys.Pdeathsig = 0
	req, out := make([]byte, 1), make([]byte, 8)
	for {
		if m, err := syscall.Read(3, req); err != nil || m != 1 || req[0] == 0 {
			os.Exit(0)
		}
		pid, err := syscall.ForkExec(prog, []string{prog}, a)
		if err != nil {
			os.Exit(1)
		}
		binary.LittleEndian.PutUint64(out, uint64(pid))
		if _, err := syscall.Write(3, out); err != nil {
			os.Exit(1)
		}
	}
}
