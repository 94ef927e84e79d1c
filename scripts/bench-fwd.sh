#!/usr/bin/env bash
# The forwarder benchmark as the perf work measured it: `picasso fwd` as its
# own process, `picasso bench ping` through it over Unix and UDP and
# `--direct` (same run, no forwarder) as the baseline, a low-load run, the
# forwarder's idle RSS and its CPU time per exchange (from /proc, so it
# holds up on a shared machine better than the rates do).
#
#   scripts/bench-fwd.sh [BIN] [CONSUMERS] [SECONDS] [WINDOW]
#
# Each rate is measured twice: consumers with one Interest in flight (the
# next sent when the previous is answered, like ndnping) and pipelined
# consumers keeping WINDOW (default 8) in flight, like ndncatchunks; each
# beside its direct baseline with the same consumers.
#
# BIN defaults to target/release/picasso (CARGO_TARGET_DIR honoured).
# Needs python3 (to read the JSON reports).
set -euo pipefail

BIN=${1:-${CARGO_TARGET_DIR:-target}/release/picasso}
C=${2:-16}
D=${3:-4}
W=${4:-8}
DIR=$(mktemp -d)
SOCK=$DIR/fwd.sock
trap 'kill $FP 2>/dev/null || true; rm -rf "$DIR"' EXIT

"$BIN" fwd --unix "$SOCK" --tcp "" --udp 127.0.0.1:0 >"$DIR/fwd.log" 2>&1 &
FP=$!
sleep 0.5
UDP=$(grep -o 'udp=127.0.0.1:[0-9]*' "$DIR/fwd.log" | head -1 | cut -d= -f2)
echo "forwarder idle RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$FP/status)"

# cpu_ticks: utime + stime of the forwarder, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' /proc/$FP/stat; }

run() { # label, consumers, seconds, bench args...
    local label=$1 c=$2 d=$3
    shift 3
    local t0 t1 json
    t0=$(cpu_ticks)
    json=$("$BIN" bench ping "$@" --consumers "$c" --duration "$d" --json)
    t1=$(cpu_ticks)
    python3 - "$label" "$json" "$t0" "$t1" "$(getconf CLK_TCK)" <<'PY'
import json, sys
label, r, t0, t1, hz = sys.argv[1], json.loads(sys.argv[2]), *map(int, sys.argv[3:])
# The bench measures after a 0.3 s warm-up; the forwarder's CPU covers it too.
n = r["exchanges"] * (1 + 0.3 / (r["exchanges"] / r["exchangesPerSec"]))
cpu = (t1 - t0) / hz * 1e6 / n if "direct" not in label else 0
print(f"{label:16} {r['exchangesPerSec']:9.0f}/s  p50 {r['p50Us']:5d} us  p99 {r['p99Us']:6d} us"
      f"  timeouts {r['timeouts']}" + (f"  fwd cpu {cpu:5.2f} us/exchange" if cpu else ""))
PY
}

run "unix fwd" "$C" "$D" --fwd "unix:$SOCK"
run "unix direct" "$C" "$D" --direct --transport unix
run "udp fwd" "$C" "$D" --fwd "udp:$UDP" --producer-fwd "unix:$SOCK"
run "udp direct" "$C" "$D" --direct --transport udp
echo "pipelined: $C consumers x $W Interests in flight"
run "unix fwd w$W" "$C" "$D" --fwd "unix:$SOCK" --window "$W"
run "unix direct w$W" "$C" "$D" --direct --transport unix --window "$W"
run "udp fwd w$W" "$C" "$D" --fwd "udp:$UDP" --producer-fwd "unix:$SOCK" --window "$W"
run "udp direct w$W" "$C" "$D" --direct --transport udp --window "$W"
run "low-load fwd" 1 2 --fwd "unix:$SOCK"
echo "forwarder RSS after the runs: $(awk '/VmRSS/ {print $2, $3}' /proc/$FP/status)"
