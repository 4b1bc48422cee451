//go:build !unix

package metrics

// collectProcess has nothing to add where there is no getrusage or /proc.
func collectProcess(*exposition) {}
