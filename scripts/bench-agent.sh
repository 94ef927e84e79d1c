#!/usr/bin/env bash
# Benchmarks of a PiCasso node (release build) against same-run baselines,
# printed side by side with their ratios (issue 4 item 8):
#
#   1. HTTP: `ab -c 100 -n 10000` GET /index.html of nginx (HTTP_IMAGE=busybox-httpd
#      for busybox httpd, whose listen backlog of 9 makes ab's baselines bimodal)
#      - through the node's HTTP ingress (ingress → forwarder → gateway → container)
#      - directly against the container's mapped port (baseline)
#      - through HAProxy (Debian) in front of the same container (baseline)
#      p50/p99 latency (ab's percentiles, ms) and success rate.
#      Targets: ingress p50 ≤ 1.5× direct, ≤ 1.2× HAProxy.
#   2. A 100 MB image fetched by name, as a node fetches one: the fetcher on
#      an in-process face of an embedded forwarder (the node's own code), the
#      repo's publisher in another process on a Unix face of it; every
#      segment checked against the manifest, written to disk. Beside it, the
#      same with publisher and fetcher both on Unix faces of the running
#      node's forwarder (three processes). Baseline: curl of the same file
#      from nginx on loopback (written to disk). Target: ≥ 80% of curl's
#      throughput.
#   3. Deploy time per image: with the fetch (image removed from the
#      engine first) and without (image already in the engine).
#   4. Resident memory of an idle `picasso node`. Target: ≤ 20 MB.
#
#   scripts/bench-agent.sh [RUNS]     # RUNS repetitions of each (default 3)
#   NODE_ARGS="--worker-threads 2" scripts/bench-agent.sh   # extra `picasso node` flags
#   HTTP_IMAGE=busybox-httpd scripts/bench-agent.sh          # the container ab loads
#
# Installs apache2-utils, haproxy, curl and nginx-light when missing (apt),
# needs a Docker engine (scripts/deps.sh starts one). Everything listens on
# 127.0.0.1, ports picked free; every process and container it starts is
# stopped on exit. The machine may be shared: figures are ranges over runs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
RUNS=${1:-3}
export HTTP_IMAGE=${HTTP_IMAGE:-nginx}
case $HTTP_IMAGE in busybox-httpd|nginx) ;; *) echo "bench-agent.sh: HTTP_IMAGE must be busybox-httpd or nginx" >&2; exit 2 ;; esac

die() { echo "bench-agent.sh: $*" >&2; exit 1; }
log() { echo "bench-agent.sh: $*" >&2; }

# --- tools -----------------------------------------------------------------
declare -A want=([ab]=apache2-utils [haproxy]=haproxy [curl]=curl [nginx]=nginx-light [jq]=jq)
missing=()
for tool in "${!want[@]}"; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || missing+=("${want[$tool]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin"
"$root/scripts/deps.sh" >&2

# --- build -------------------------------------------------------------------
target=${CARGO_TARGET_DIR:-$root/target}
log "cargo build --release --bin picasso"
cargo build --release --bin picasso >&2
work=$(mktemp -d /tmp/picasso-bench.XXXXXX)
# A copy: a target directory shared with other checkouts may be rebuilt under us.
bin="$work/picasso"
cp "$target/release/picasso" "$bin"
"$bin" bench deploy --help >/dev/null 2>&1 || die "$target/release/picasso has no 'bench deploy' (another checkout's build?)"
"$bin" images build --out "$root/target/images" --only busybox-httpd --only nginx >&2

node="bench-$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ids=$(docker ps -aq --filter "label=picasso.node=$node" 2>/dev/null || true)
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- the node ------------------------------------------------------------------
"$bin" keygen --out "$work/orch.key" >/dev/null
start_node() { # $1: id; sets NODE_PID and READY (no subshell: pids must stick)
  local id=$1 dir="$work/$1"
  mkdir -p "$dir"
  RUST_LOG=warn "$bin" node --id "$id" --data-dir "$dir" --orchestrator-key "$work/orch.key.pub" \
    --runtime docker --fwd-unix "$dir/fwd.sock" --fwd-tcp "" --fwd-udp "" \
    --http 127.0.0.1:0 --metrics 127.0.0.1:0 --ip 127.0.0.1 ${NODE_ARGS:-} >"$dir/out" 2>"$dir/err" &
  NODE_PID=$!
  pids+=("$NODE_PID")
  for _ in $(seq 1 100); do
    grep -q '^ready' "$dir/out" 2>/dev/null && break
    sleep 0.1
  done
  READY=$(grep '^ready' "$dir/out") || die "node $id did not start: $(cat "$dir/err")"
}
start_node "$node"
sock="$work/$node/fwd.sock"
http=$(sed -n 's/.* http=\([^ ]*\).*/\1/p' <<<"$READY")

# 4. Idle memory first, before any load.
sleep 3
rss_idle=$(awk '/VmRSS/ {print $2}' "/proc/$NODE_PID/status")
log "idle RSS ${rss_idle} kB"

# --- 3. deploy times ---------------------------------------------------------
deploy() { # image tag service port [--keep]; one retry, failures counted and reported
  local r
  for _ in 1 2; do
    if r=$("$bin" bench deploy --fwd "unix:$sock" --node "$node" --orchestrator-key "$work/orch.key" \
      --image "$1" --tag "$2" --archive "$root/target/images/$1.tar" --service "$3" --port "$4" "${@:5}"); then
      echo "$r"; return 0
    fi
    echo x >>"$work/deploy-failures"
  done
  die "deploy of $1 failed twice"
}
declare -A deploy_fetch deploy_engine
for img in busybox-httpd nginx; do
  tag="picasso/$img:1"
  for run in $(seq 1 "$RUNS"); do
    docker rmi -f "$tag" >/dev/null 2>&1 || true
    # Each `bench deploy` publishes under a new version while the node's
    # content store may still hold the previous manifest fresh: the
    # publisher's version Nack sends the node to the new one (no wait needed).
    r=$(deploy "$img" "$tag" "d$img" "$(free_port)")
    deploy_fetch[$img]+="$(jq -r '.reply.timings | "\(.totalMs) \(.fetchMs) \(.loadMs)"' <<<"$r");"
    r=$(deploy "$img" "$tag" "d$img" "$(free_port)")
    deploy_engine[$img]+="$(jq -r '.reply.timings.totalMs' <<<"$r");"
  done
done

# --- 1. HTTP -------------------------------------------------------------------
port=$(free_port)
deploy "$HTTP_IMAGE" "picasso/$HTTP_IMAGE:1" bb "$port" --keep >/dev/null
hport=$(free_port)
cat >"$work/haproxy.cfg" <<EOF
global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe
  bind 127.0.0.1:$hport
  default_backend be
backend be
  # Idle server connections are shared between client connections (ab
  # sends one request per connection: with the default "safe" mode every
  # request would open a new server connection).
  http-reuse always
  server c1 127.0.0.1:$port
EOF
haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
pids+=($!)
sleep 1
ab_run() { # url → "p50 p99 success% req/s mean-ms"
  local out
  out=$(ab -q -c 100 -n 10000 -s 30 "$1" 2>&1) || { echo "nan nan 0 nan nan"; return; }
  local complete failed non2xx p50 p99 rps mean
  complete=$(awk '/^Complete requests:/ {print $3}' <<<"$out")
  failed=$(awk '/^Failed requests:/ {print $3}' <<<"$out")
  non2xx=$(awk '/^Non-2xx responses:/ {print $3}' <<<"$out"); non2xx=${non2xx:-0}
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  rps=$(awk '/^Requests per second:/ {print $4}' <<<"$out")
  mean=$(awk '/^Time per request:.*\(mean\)$/ {print $4}' <<<"$out")
  echo "$p50 $p99 $(awk -v c="$complete" -v f="$failed" -v n="$non2xx" 'BEGIN {printf "%.2f", 100 * (c - f - n) / 10000}') $rps $mean"
}
# Warm up each path, then alternate them run by run (the load varies).
for u in "http://127.0.0.1:$port/index.html" "http://$http/bb/index.html" "http://127.0.0.1:$hport/index.html"; do
  ab -q -c 10 -n 500 "$u" >/dev/null 2>&1 || die "warm-up of $u failed"
done
declare -A ab_res
for run in $(seq 1 "$RUNS"); do
  ab_res[direct]+="$(ab_run "http://127.0.0.1:$port/index.html");"
  ab_res[ingress]+="$(ab_run "http://$http/bb/index.html");"
  ab_res[haproxy]+="$(ab_run "http://127.0.0.1:$hport/index.html");"
done
# Unloaded: one request at a time, ab's mean (0.001 ms resolution), so the
# path's own cost shows apart from queueing on a busy machine.
url_of() { # path (direct|ingress|haproxy), query → the page's URL on that path
  case $1 in
    direct) echo "http://127.0.0.1:$port/index.html${2:-}" ;;
    ingress) echo "http://$http/bb/index.html${2:-}" ;;
    haproxy) echo "http://127.0.0.1:$hport/index.html${2:-}" ;;
  esac
}
declare -A c1
for run in $(seq 1 "$RUNS"); do
  for k in direct ingress haproxy; do
    c1[$k]+="$(ab -q -c 1 -n 2000 "$(url_of $k)" 2>&1 | awk '/^Time per request:.*\(mean\)$/ {print $4}');"
  done
done
# ab asks for one URL again and again: concurrent identical requests are
# aggregated by the node's forwarder (one replica call answers several).
# The same load with every request its own URL (`{n}`, ignored by the
# container) shows the path without that help.
declare -A numbered
for run in $(seq 1 "$RUNS"); do
  for k in direct ingress haproxy; do
    numbered[$k]+="$("$bin" bench http -c 100 -n 10000 --no-keep-alive --json "$(url_of $k '?r={n}')" | jq -r '"\(.p50Ms) \(.p99Ms) \(.successRate) \(.throughput)"');"
  done
done
rss_loaded=$(awk '/VmRSS/ {print $2}' "/proc/$NODE_PID/status")
deploy_failures=0
[ -f "$work/deploy-failures" ] && deploy_failures=$(wc -l <"$work/deploy-failures")

# --- 2. 100 MB by name vs curl from nginx ------------------------------------
mkdir -p "$work/www" "$work/fetch"
# nginx's workers run unprivileged: let them read the file.
chmod 755 "$work" "$work/www"
head -c 100000000 /dev/urandom >"$work/www/image.tar"
chmod 644 "$work/www/image.tar"
nport=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  server { listen 127.0.0.1:$nport; root $work/www; }
}
EOF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
sleep 1
nginx_worker=$(pgrep -P "${pids[-1]}" | head -1 || true)
cpu_of() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat" 2>/dev/null || echo 0; }
curl_mb=""; ndn_mb=""; ndn3_mb=""; curl_cpu=""; ndn_cpu=""; ceiling=""
for run in $(seq 1 "$RUNS"); do
  n0=$(cpu_of "$nginx_worker")
  ct=$( { TIMEFORMAT='%U %S'; time curl -s -o "$work/fetch/curl.out" -w '%{time_total}' "http://127.0.0.1:$nport/image.tar" >"$work/fetch/curl.t"; } 2>&1 )
  n1=$(cpu_of "$nginx_worker")
  t=$(cat "$work/fetch/curl.t")
  curl_cpu+="$(awk -v c="$ct" -v n0="$n0" -v n1="$n1" 'BEGIN {split(c, x, " "); printf "%.2f %.2f", x[1] + x[2], n1 - n0}');"
  cmp -s "$work/fetch/curl.out" "$work/www/image.tar" || die "curl fetched a different file: $(head -c 300 "$work/fetch/curl.out")"
  rm -f "$work/fetch/curl.out"
  curl_mb+="$(awk -v t="$t" 'BEGIN {printf "%.1f", 100 / t}');"
  r=$("$bin" bench image-fetch --file "$work/www/image.tar" --dir "$work/fetch" --runs 1)
  ndn_mb+="$(jq -r '.mbPerSec | . * 10 | round / 10' <<<"$r");"
  ndn_cpu+="$(jq -r '.cpuSeconds | "\(.fetcherProcess) \(.repoProcess) \(.verify) \(.write)"' <<<"$r");"
  r=$("$bin" bench image-fetch --fwd "unix:$sock" --file "$work/www/image.tar" --dir "$work/fetch" --runs 1)
  ndn3_mb+="$(jq -r '.mbPerSec | . * 10 | round / 10' <<<"$r");"
  # What NDN alone moves here: segment-sized Data through the node's
  # forwarder, no checks, no disk; and the same with no forwarder.
  ping=(bench ping --consumers 4 --window 16 --payload 8000 --duration 2 --json)
  c0=$(cpu_of "$NODE_PID")
  p=$("$bin" "${ping[@]}" --fwd "unix:$sock")
  c1=$(cpu_of "$NODE_PID")
  d=$("$bin" "${ping[@]}" --direct)
  # The node's CPU per exchange (its forwarder's, and the little else it does).
  us=$(jq -r --arg c "$(awk -v a="$c0" -v b="$c1" 'BEGIN {print b - a}')" '($c | tonumber) * 1e6 / .exchanges' <<<"$p")
  ceiling+="$(jq -r '.exchangesPerSec * 8000 / 1e6' <<<"$p") $(jq -r '.exchangesPerSec * 8000 / 1e6' <<<"$d") $us;"
done

# --- report ------------------------------------------------------------------
python3 - "$RUNS" "$rss_idle" "$rss_loaded" "${ab_res[direct]}" "${ab_res[ingress]}" "${ab_res[haproxy]}" \
  "$curl_mb" "$ndn_mb" "${deploy_fetch[busybox-httpd]}" "${deploy_engine[busybox-httpd]}" \
  "${deploy_fetch[nginx]}" "${deploy_engine[nginx]}" "$deploy_failures" \
  "${c1[direct]}" "${c1[ingress]}" "${c1[haproxy]}" \
  "${numbered[direct]}" "${numbered[ingress]}" "${numbered[haproxy]}" "$ndn3_mb" "$curl_cpu" "$ndn_cpu" "$ceiling" <<'EOF'
import sys, statistics as st
runs, rss_idle, rss_loaded = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def rows(s): return [r.split() for r in s.strip(";").split(";") if r]
def rng(xs, fmt="{:.1f}"):
    xs = sorted(xs); return f"{fmt.format(st.median(xs))} [{fmt.format(xs[0])}–{fmt.format(xs[-1])}]"
ab = {k: rows(v) for k, v in zip(["direct", "ingress", "haproxy"], sys.argv[4:7])}
import os
image = os.environ["HTTP_IMAGE"]
print(f"== HTTP: ab -c 100 -n 10000 GET /index.html ({image}), {runs} runs, median [min–max] ==")
print(f"{'path':10} {'p50 ms':>16} {'p99 ms':>16} {'success %':>20} {'requests/s':>24} {'mean ms':>20}")
for k, r in ab.items():
    print(f"{k:10} {rng([float(x[0]) for x in r]):>16} {rng([float(x[1]) for x in r]):>16} {rng([float(x[2]) for x in r], '{:.2f}'):>20}"
          f" {rng([float(x[3]) for x in r], '{:.0f}'):>24} {rng([float(x[4]) for x in r]):>20}")
if image == "busybox-httpd":
    print("(busybox httpd drops SYNs beyond its listen backlog of 9: direct and HAProxy latencies are"
          " bimodal (1 s SYN retransmits), which lowers their p50 and raises their p99; see the mean)")
for base, target in [("direct", 1.5), ("haproxy", 1.2)]:
    ratios = [float(i[0]) / max(float(b[0]), 1) for i, b in zip(ab["ingress"], ab[base])]
    ok = st.median(ratios) <= target
    print(f"ingress p50 / {base} p50 (same run): {rng(ratios, '{:.2f}')}  target ≤ {target}: {'met' if ok else 'MISSED'}")
    means = [float(i[4]) / max(float(b[4]), 1e-9) for i, b in zip(ab["ingress"], ab[base])]
    print(f"  (mean latency ratio, same run: {rng(means, '{:.2f}')})")
c1 = {k: [float(x) * 1000 for x in v.strip(";").split(";")] for k, v in zip(["direct", "ingress", "haproxy"], sys.argv[14:17])}
print("unloaded (ab -c 1 -n 2000), mean µs per request: " + "   ".join(f"{k} {rng(v, '{:.0f}')}" for k, v in c1.items()))
print(f"  ingress added per request vs direct: {rng([i - d for i, d in zip(c1['ingress'], c1['direct'])], '{:.0f}')} µs")
nb = {k: rows(v) for k, v in zip(["direct", "ingress", "haproxy"], sys.argv[17:20])}
print(f"\n== the same load with numbered URLs (picasso bench http -c 100 -n 10000 --no-keep-alive 'URL?r={{n}}'): no aggregation ==")
print(f"{'path':10} {'p50 ms':>16} {'p99 ms':>16} {'success':>20} {'requests/s':>24}")
for k, r in nb.items():
    print(f"{k:10} {rng([float(x[0]) for x in r], '{:.2f}'):>16} {rng([float(x[1]) for x in r], '{:.2f}'):>16}"
          f" {rng([float(x[2]) for x in r], '{:.4f}'):>20} {rng([float(x[3]) for x in r], '{:.0f}'):>24}")
for base, target in [("direct", 1.5), ("haproxy", 1.2)]:
    ratios = [float(i[0]) / max(float(b[0]), 1e-9) for i, b in zip(nb["ingress"], nb[base])]
    ok = st.median(ratios) <= target
    print(f"ingress p50 / {base} p50 (numbered, same run): {rng(ratios, '{:.2f}')}  target ≤ {target}: {'met' if ok else 'MISSED'}")
curl = [float(x) for x in sys.argv[7].strip(";").split(";")]
ndn = [float(x) for x in sys.argv[8].strip(";").split(";")]
print(f"\n== 100 MB: by name over NDN vs curl from nginx (loopback), MB/s ==")
ndn3 = [float(x) for x in sys.argv[20].strip(";").split(";")]
print(f"curl/nginx {rng(curl)}   NDN image fetch as a node {rng(ndn)}   (both ends on faces of the node's forwarder: {rng(ndn3)})")
ratios = [n / c for n, c in zip(ndn, curl)]
print(f"NDN / curl (same run): {rng(ratios, '{:.2f}')}  target ≥ 0.80: {'met' if st.median(ratios) >= 0.8 else 'MISSED'}")
cc = [[float(v) for v in r] for r in rows(sys.argv[21])]
nc = [[float(v) for v in r] for r in rows(sys.argv[22])]
print("CPU per 100 MB, core-seconds (user + system, 10 ms ticks):")
print(f"  curl {rng([c[0] for c in cc], '{:.2f}')} + nginx {rng([c[1] for c in cc], '{:.2f}')}")
print(f"  NDN: node (forwarder, pipeline, checks, file) {rng([n[0] for n in nc], '{:.2f}')} + repo {rng([n[1] for n in nc], '{:.2f}')};"
      f" of the node's, checking segments (SHA-256, one pass) {rng([n[2] for n in nc], '{:.3f}')} s and writing the file {rng([n[3] for n in nc], '{:.3f}')} s")
best = [200 / max(n[0] + n[1], 1e-9) for n in nc]
print(f"  at that CPU cost two cores fetch at most {rng(best, '{:.0f}')} MB/s, spread perfectly; 0.8 × curl is {rng([0.8 * c for c in curl], '{:.0f}')} MB/s")
ce = [[float(v) for v in r] for r in rows(sys.argv[23])]
print(f"NDN alone, same run (bench ping, 4 consumers × 16 in flight, 8000-byte Data, no checks, no disk):"
      f" through the node's forwarder {rng([c[0] for c in ce], '{:.0f}')} MB/s, with no forwarder {rng([c[1] for c in ce], '{:.0f}')} MB/s;"
      f" the fetch reaches {rng([n / c[0] for n, c in zip(ndn, ce)], '{:.2f}')} of the first")
print(f"  the node's CPU per 8000-byte exchange: {rng([c[2] for c in ce], '{:.1f}')} µs; a forwarder with a core of its own, and"
      f" producer and consumer costing nothing, would move at most {rng([8000 / c[2] for c in ce], '{:.0f}')} MB/s")
print(f"\n== deploy time per image, ms (node's totalMs), median [min–max] ==")
for name, fetch, engine in [("busybox-httpd", sys.argv[9], sys.argv[10]), ("nginx", sys.argv[11], sys.argv[12])]:
    f = rows(fetch); e = [float(x[0]) for x in rows(engine)]
    print(f"{name:14} with fetch {rng([float(x[0]) for x in f])} (fetch {rng([float(x[1]) for x in f])}, load {rng([float(x[2]) for x in f])})   image in engine {rng(e)}")
print(f"(deploys that failed and were retried once: {sys.argv[13]})")
print(f"\n== picasso node resident memory (release) ==")
print(f"idle {rss_idle / 1024:.1f} MB (target ≤ 20 MB: {'met' if rss_idle <= 20 * 1024 else 'MISSED'}); after the ab runs {rss_loaded / 1024:.1f} MB")
EOF
