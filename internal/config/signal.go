package config

import (
	"strconv"
	"strings"
)

// parseSignal accepts a signal as TERM, SIGTERM, term or 15 and returns the
// upper-case name without the SIG prefix, as Stop.Signal holds it.
func parseSignal(s string) (string, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 {
			return "", false
		}
		return signalByNumber(n)
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if name == "" || !signalKnown(name) {
		return "", false
	}
	return name, true
}
