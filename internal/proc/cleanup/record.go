package cleanup

// Record is what a supervisor writes down about each process it starts, so
// that the next run can kill what survived a crash of this one (see
// KillRecorded). Start is the process's StartTime; Pgid is its process group,
// 0 when none is recorded.
type Record struct {
	Pid, Pgid int
	Start     uint64
}
