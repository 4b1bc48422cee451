package observe

import (
	"bytes"
	"os"
	"strconv"
)

// Children lists pid's children over all its threads (a child belongs to
// the thread that forked it). It is a snapshot: a child may be gone, or its
// pid reused, by the time it is looked at; callers check each child's parent.
func Children(pid int) []int {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []int
	for _, t := range tasks {
		out = appendChildren(out, dir+"/"+t.Name()+"/children")
	}
	return out
}

// appendChildren adds the pids listed in a task's children file.
func appendChildren(out []int, path string) []int {
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for f := range bytes.FieldsSeq(b) {
		if c, err := strconv.Atoi(string(f)); err == nil && c > 0 {
			out = append(out, c)
		}
	}
	return out
}

// LeaderChildren lists the children of pid's thread group leader only. For
// a subreaper these include its orphans: the kernel hands an orphan to the
// first live thread of its subreaper, the thread group leader, which lives
// as long as the process. One read, so that it is cheap enough for every reap.
func LeaderChildren(pid int) []int {
	p := strconv.Itoa(pid)
	return appendChildren(nil, "/proc/"+p+"/task/"+p+"/children")
}
