// Package gcpace paces a long-running process's garbage collections by a
// memory limit that follows its live heap, instead of the runtime's
// percentage trigger and the collection it forces every two minutes.
package gcpace
