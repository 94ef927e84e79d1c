#!/usr/bin/env bash
# Reaction times of the orchestrator (issue 5 item 7), measured by the
# end-to-end tests in tests/orchestrator.rs: an orchestrator and three
# `picasso node --runtime process` on 127.0.0.1 (tick 300 ms, monitoring
# every 300 ms, a node unreachable after 3 missed polls), the service a
# local python http.server:
#
#   - first deploy → answering (cold: the image fetched from the repo by
#     name; the same-run baseline of the figures below)
#   - `picasso scale S 2` → the second replica running (listed by the
#     monitoring) and answering on its own host port
#   - a node stopped (SIGTERM) → its replica running again on another node
#     (listed), answering on its own host port, and both survivors'
#     ingresses answering
#   - on-demand: the first request for a service that runs nowhere → the
#     service answering
#   - a load step (four clients start on the one replica of a service that
#     burns 50 ms of CPU a request) → the second replica the `threshold`
#     policy adds answering on its port, beside that run's first deploy
#
# and, once, the orchestrator's CPU (percent of one core, from
# /proc/<pid>/stat over 20 s) and RSS while it polls 1,000 simulated nodes
# (one in-test producer answers every node's monitor name with a report
# signed by that node's enrolled key; a poll per node per second, or
# $PICASSO_BENCH_MONITOR_MS), beside the same process with no node
# enrolled (the same-run baseline). That orchestrator is the release
# build (built here, copied so other checkouts' builds do not replace it).
#
#   scripts/bench-orchestrator.sh [RUNS]     # default 3 runs
#
# The machine may be shared: figures are printed per run.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
if cargo nextest --version >/dev/null 2>&1; then
    runner=(cargo nextest run --test orchestrator --no-capture)
    load_step=(cargo nextest run --test orchestrator --run-ignored only --no-capture
        bench_load_step_to_new_replica_serving)
else
    runner=(cargo test --test orchestrator -- --nocapture --test-threads 1)
    load_step=(cargo test --test orchestrator -- --ignored --nocapture
        bench_load_step_to_new_replica_serving)
fi
for i in $(seq 1 "$RUNS"); do
    echo "== run $i/$RUNS"
    "${runner[@]}" 2>/dev/null | grep -E '^(orchestrator reaction times|  (first|scale|node)|on-demand:)'
    "${load_step[@]}" 2>/dev/null | grep -E '^(load step|  (deploy|load step|ratio|decision))'
done

echo "== 1,000 simulated nodes (release orchestrator)"
cargo build --release --bin picasso >/dev/null
target=${CARGO_TARGET_DIR:-target}
bin=$(mktemp -d)/picasso
cp "$target/release/picasso" "$bin"
if cargo nextest --version >/dev/null 2>&1; then
    PICASSO_BIN=$bin cargo nextest run --test orchestrator --run-ignored only \
        --no-capture bench_orchestrator_with_1000_simulated_nodes 2>/dev/null \
        | grep -E '^(orchestrator with|  (no node|[0-9]+ nodes|ratio))'
else
    PICASSO_BIN=$bin cargo test --test orchestrator -- --ignored --nocapture \
        bench_orchestrator_with_1000_simulated_nodes 2>/dev/null \
        | grep -E '^(orchestrator with|  (no node|[0-9]+ nodes|ratio))'
fi
rm -rf "$(dirname "$bin")"
