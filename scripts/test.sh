#!/usr/bin/env bash
# Runs the whole test suite: every package, then the keeper's, the output
# capture's and the end-to-end tests a second time on the POSIX path that
# macOS and FreeBSD use (RESPAWN_PLATFORM=posix: no cgroups, subreaper,
# pidfds or parent-death signals; built with -tags portable_poller, the
# capture those systems get). The race detector needs cgo and so a
# C compiler; on a machine with only Go the suite still runs, without it, and
# says so.
set -euo pipefail
cd "$(dirname "$0")/.."

race=(-race)
cc=$(go env CC)
if [ "$(go env CGO_ENABLED)" != "1" ] || ! command -v "${cc%% *}" >/dev/null 2>&1; then
	echo "test.sh: no C compiler (${cc}) for cgo: running without the race detector" >&2
	race=()
fi
go test "${race[@]}" "$@" ./...
echo "test.sh: again on the POSIX path (RESPAWN_PLATFORM=posix, the portable output capture)"
RESPAWN_PLATFORM=posix go test "${race[@]}" -tags portable_poller "$@" ./internal/keeper/... ./internal/logs/... ./cmd/respawn/...
