#!/usr/bin/env bash
# Workload for the probe sample: nothing to drive, the probe acts on its own and exits within
# milliseconds. Wait (bounded, 30 s) for the container to stop and fail if the probe failed.
# Env: PROFILER_CONTAINER_ID (from profiler record, or set by hand).
set -euo pipefail

cid="${PROFILER_CONTAINER_ID:-}"
[ -n "$cid" ] || { echo "probe workload: PROFILER_CONTAINER_ID is not set" >&2; exit 1; }

for _ in $(seq 150); do
    state="$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$cid" 2>/dev/null)" \
        || exit 0   # already gone (e.g. run with --rm): nothing left to check
    case "$state" in
        "exited 0") echo "probe workload: probe exited 0"; exit 0 ;;
        exited*|dead*) echo "probe workload: probe ended with: $state" >&2; exit 1 ;;
    esac
    sleep 0.2
done
echo "probe workload: probe still running after 30 s" >&2
exit 1
