//go:build !unix

package config

import "slices"

// Systems without POSIX signals still get configs checked against the
// names every Unix has; only the numbers shared by all of them are known.

var portableSignals = []string{
	"ABRT", "ALRM", "BUS", "CHLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "KILL",
	"PIPE", "PROF", "QUIT", "SEGV", "STOP", "SYS", "TERM", "TRAP", "TSTP", "TTIN",
	"TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
}

var portableNumbers = map[int]string{1: "HUP", 2: "INT", 3: "QUIT", 6: "ABRT", 9: "KILL", 14: "ALRM", 15: "TERM"}

func signalByNumber(n int) (string, bool) {
	name, ok := portableNumbers[n]
	return name, ok
}

func signalKnown(name string) bool {
	return slices.Contains(portableSignals, name)
}
