// Package codepages lets a long-running process give up its mappings of the
// binary's code and read-only data, so that at rest it holds only the pages
// it runs.
package codepages
