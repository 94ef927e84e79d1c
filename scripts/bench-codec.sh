#!/usr/bin/env bash
# Same-run comparison of our decoder against python-ndn on the same packets.
#
#   scripts/bench-codec.sh [MEASUREMENT_SECONDS]     # default 3
#
# 1. runs the criterion `codec` bench of picasso-tlv with a short measurement
#    time (it writes every packet it decodes to target/codec-bench/*.hex);
# 2. runs tlv/benches/pyndn_decode.py on those very packets;
# 3. prints packet, ours decodes/s, python-ndn decodes/s and the ratio.
#
# python-ndn comes from $PICASSO_PYTHON, else scripts/pyenv.sh when present,
# else a .venv created here (pip install python-ndn==0.5.2).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
secs=${1:-3}
die() { echo "bench-codec.sh: $*" >&2; exit 1; }

python=${PICASSO_PYTHON:-}
if [ -z "$python" ] && [ -x scripts/pyenv.sh ]; then
  python=$(scripts/pyenv.sh) || die "scripts/pyenv.sh failed"
fi
if [ -z "$python" ]; then
  python="$root/.venv/bin/python"
  if ! "$python" -c 'import ndn' 2>/dev/null; then
    python3 -m venv "$root/.venv" || die "python3 -m venv failed"
    "$root/.venv/bin/pip" install --quiet python-ndn==0.5.2 || die "pip install python-ndn failed"
  fi
fi
"$python" -c 'import ndn' 2>/dev/null || die "$python has no python-ndn"

packets="$root/target/codec-bench"
echo "bench-codec.sh: criterion (measurement ${secs}s per benchmark)" >&2
PICASSO_BENCH_PACKETS="$packets" cargo bench -p picasso-tlv --bench codec -- \
  --measurement-time "$secs" --warm-up-time 1 >&2
echo "bench-codec.sh: python-ndn $("$python" -c 'import importlib.metadata as m; print(m.version("python-ndn"))')" >&2
"$python" tlv/benches/pyndn_decode.py "$packets" >"$packets/pyndn.jsonl"

python3 - "${CARGO_TARGET_DIR:-$root/target}/criterion" "$packets/pyndn.jsonl" <<'PY'
import json, os, sys
crit, pyfile = sys.argv[1], sys.argv[2]

def ours(group, bench):
    """Decodes/s from criterion's median time per iteration (ns): the
    statistic pyndn_decode.py reports too."""
    with open(os.path.join(crit, group, bench, "new", "estimates.json")) as f:
        return 1e9 / json.load(f)["median"]["point_estimate"]

rows = [json.loads(l) for l in open(pyfile) if l.strip()]
print(f"{'packet':<12} {'bytes':>6} {'ours decodes/s':>16} {'python-ndn decodes/s':>21} {'ratio':>8}")
for r in rows:
    o = ours("decode", r["packet"])
    p = r["decodes_per_sec"]
    print(f"{r['packet']:<12} {r['bytes']:>6} {o:>16,.0f} {p:>21,.0f} {o / p:>7.0f}x")
print()
print("other codec figures (ours, per second):")
for group in ("encode", "name", "lp"):
    d = os.path.join(crit, group)
    if not os.path.isdir(d):
        continue
    for bench in sorted(os.listdir(d)):
        if os.path.exists(os.path.join(d, bench, "new", "estimates.json")):
            print(f"  {group}/{bench:<28} {ours(group, bench):>16,.0f}")
PY
