#!/usr/bin/env bash
# Reaction times of the orchestrator (issue 5 item 7), measured by the
# end-to-end tests in tests/orchestrator.rs: an orchestrator and three
# `picasso node --runtime process` on 127.0.0.1 (tick 300 ms, monitoring
# every 300 ms, a node unreachable after 3 missed polls), the service a
# local python http.server:
#
#   - first deploy → answering (cold: the image fetched from the repo by
#     name; the same-run baseline of the figures below)
#   - `picasso scale S 2` → the second replica running (listed)
#   - a node stopped → its replica running again on another node (listed),
#     and the survivors answering
#   - on-demand: the first request for a service that runs nowhere → the
#     service answering
#
#   scripts/bench-orchestrator.sh [RUNS]     # default 3 runs
#
# The machine may be shared: figures are printed per run.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
if cargo nextest --version >/dev/null 2>&1; then
    runner=(cargo nextest run --test orchestrator --no-capture)
else
    runner=(cargo test --test orchestrator -- --nocapture --test-threads 1)
fi
for i in $(seq 1 "$RUNS"); do
    echo "== run $i/$RUNS"
    "${runner[@]}" 2>/dev/null | grep -E '^(orchestrator reaction times|  (first|scale|node)|on-demand:)'
done
