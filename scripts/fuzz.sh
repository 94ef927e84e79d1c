#!/usr/bin/env bash
# Runs every cargo-fuzz target of picasso-tlv for SECONDS each, one after
# another (one core each time), and prints execs, exec/s and crashes.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     # default 60 s, every target
#
# Seeds under tlv/fuzz/seeds/<target>/ are copied into the corpus first
# (named by content hash, as libFuzzer names its own inputs, so git ignores
# them). Crashing inputs land in tlv/fuzz/artifacts/<target>/.
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain
# RUSTC_BOOTSTRAP=1 unlocks the nightly flags cargo-fuzz passes;
# FUZZ_SANITIZER=address switches AddressSanitizer on (default: none, the
# crate forbids unsafe code). Debug assertions (overflow checks) are on.
set -euo pipefail
cd "$(dirname "$0")/../tlv/fuzz"
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(ls fuzz_targets | sed 's/\.rs$//')
sanitizer=${FUZZ_SANITIZER:-none}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || { echo "fuzz.sh: cargo-fuzz not found: cargo install cargo-fuzz" >&2; exit 1; }

cargo fuzz build --sanitizer "$sanitizer" --debug-assertions >&2

summary=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  if [ -d "seeds/$t" ]; then
    for f in "seeds/$t"/*; do
      [ -f "$f" ] && cp "$f" "corpus/$t/$(sha1sum "$f" | cut -c1-40)"
    done
  fi
  log="artifacts/$t/fuzz.log"
  before=$(find "artifacts/$t" -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' | wc -l)
  echo "fuzz.sh: $t for ${secs}s (log $PWD/$log)" >&2
  set +e
  cargo fuzz run --sanitizer "$sanitizer" --debug-assertions "$t" "corpus/$t" -- \
    -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=1024 -timeout=10 >"$log" 2>&1
  rc=$?
  set -e
  after=$(find "artifacts/$t" -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' | wc -l)
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  corpus=$(find "corpus/$t" -type f | wc -l)
  summary+=("$(printf '%-14s %12s %10s %8s %6s %8s %4s' "$t" "${execs:-?}" "${rate:-?}" "$((after - before))" "${cov:-?}" "$corpus" "$rc")")
done
printf '%-14s %12s %10s %8s %6s %8s %4s\n' target execs exec/s crashes cov corpus rc
printf '%s\n' "${summary[@]}"
