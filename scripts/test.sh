#!/usr/bin/env bash
# Runs the whole test suite. The race detector needs cgo and so a C compiler;
# on a machine with only Go the suite still runs, without it, and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

cc=$(go env CC)
if [ "$(go env CGO_ENABLED)" = "1" ] && command -v "${cc%% *}" >/dev/null 2>&1; then
	exec go test -race "$@" ./...
fi
echo "test.sh: no C compiler (${cc}) for cgo: running without the race detector" >&2
exec go test "$@" ./...
