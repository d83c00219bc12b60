#!/usr/bin/env bash
# "Production" workload for the probe sample: the probe acts on its own and exits, so production
# here is more of it: the container is started again three times (a restart each), and every
# run must exit 0 like the first. Env: PROFILER_CONTAINER_ID (required).
set -euo pipefail

cid="${PROFILER_CONTAINER_ID:-}"
[ -n "$cid" ] || { echo "probe production: PROFILER_CONTAINER_ID is not set" >&2; exit 1; }
here="$(cd "$(dirname "$0")" && pwd)"

"$here/workload.sh"   # the first run exits 0
for i in 1 2 3; do
    docker start "$cid" >/dev/null || { echo "probe production: docker start failed" >&2; exit 1; }
    "$here/workload.sh" || { echo "probe production: run $((i + 1)) failed" >&2; exit 1; }
done
echo "probe production: 4 runs exited 0"
