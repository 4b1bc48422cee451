// Package keeper is the process that parents every service and survives its core: it spawns, reaps, holds output pipes and restarts the core.
package keeper
