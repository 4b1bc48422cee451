//go:build !linux

package proc

import (
	"context"
	"errors"
	"time"
)

// errNoCgroups is why a Manager uses process groups outside Linux.
var errNoCgroups = errors.New("cgroups exist only on Linux")

// cgroupDir is never created outside Linux; its methods exist so the portable
// code compiles.
type cgroupDir struct {
	path string
	fd   int
}

func setupCgroups(string) (*cgroupDir, error) { return nil, errNoCgroups }

func resumeCgroups(string) (*cgroupDir, map[string]*cgroupDir, error) {
	return nil, nil, errNoCgroups
}

func releaseCgroups(*cgroupDir, map[string]*cgroupDir) {}

func (*cgroupDir) child(string) (*cgroupDir, error) { return nil, errNoCgroups }
func (*cgroupDir) populated() (bool, error)         { return false, errNoCgroups }
func (*cgroupDir) kill() error                      { return errNoCgroups }
func (*cgroupDir) procs() ([]int, error)            { return nil, errNoCgroups }
func (*cgroupDir) waitEmpty(context.Context) error  { return errNoCgroups }
func (*cgroupDir) killAndWait(time.Duration) error  { return errNoCgroups }
func (*cgroupDir) remove() error                    { return errNoCgroups }
func (*cgroupDir) removeIfEmpty() error             { return errNoCgroups }
func (*cgroupDir) release()                         {}
func (*cgroupDir) wasKilled() bool                  { return false }
func (*cgroupDir) cpuTime() time.Duration           { return 0 }
