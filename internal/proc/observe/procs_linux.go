package observe

import (
	"fmt"
	"os"
	"strconv"
)

// All returns the stat of every process; one that ends during the scan is
// left out.
func All() ([]Stat, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	out := make([]Stat, 0, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if st, ok := Read(pid); ok {
			out = append(out, st)
		}
	}
	return out, nil
}

// Group returns the processes in process group pgid, zombies included.
// Linux lists no group's members: this scans every process.
func Group(pgid int) ([]Stat, error) {
	if pgid <= 0 {
		return nil, ErrInvalidPid
	}
	all, err := All()
	if err != nil {
		return nil, err
	}
	var out []Stat
	for _, st := range all {
		if st.Pgrp == pgid {
			out = append(out, st)
		}
	}
	return out, nil
}
