// Package platform says which of the operating system's process facilities
// respawn uses: the best the system offers, or only what every Unix has.
package platform
