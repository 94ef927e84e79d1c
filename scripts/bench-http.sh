#!/usr/bin/env bash
# `picasso bench http` beside real ApacheBench (Debian's apache2-utils):
# the same loads against the same local HTTP servers, run after run, the
# figures side by side with their same-run ratios (issue 6 item 3).
#
#   scripts/bench-http.sh [RUNS] [N]   # RUNS pairs per load (default 3); N requests against
#                                      # nginx (default 100000), N/10 against busybox httpd
#
# Servers (127.0.0.1, free ports, stopped on exit):
#   - nginx (one worker, keep-alive without a request limit): a fast server,
#     so the figures are the load generators' own limits; loads with
#     keep-alive (ab -k) and with a connection per request (plain ab);
#   - busybox httpd (the paper's service, a process per connection): plain.
# Loads: c = 1, 10, 100 users; GET of the paper's 306-byte page. The
# machine may be shared: the load average is printed, figures are medians
# with their ranges, and each ratio is taken within one pair.
# Each pair runs ab and picasso back to back (the order alternating); the
# CPU each tool used (user + sys, from the kernel's accounting of the
# child) is shown per request. Targets: picasso's rate ≥ ab's (ratio ≥ 1)
# and every request a success for both.
#
# Installs apache2-utils, nginx-light and busybox-static when missing (apt).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
RUNS=${1:-3}
N=${2:-100000}

die() { echo "bench-http.sh: $*" >&2; exit 1; }
log() { echo "bench-http.sh: $*" >&2; }

declare -A want=([ab]=apache2-utils [nginx]=nginx-light [busybox]=busybox-static)
missing=()
for tool in "${!want[@]}"; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || missing+=("${want[$tool]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin"

target=${CARGO_TARGET_DIR:-$root/target}
log "cargo build --release --bin picasso"
cargo build --release --bin picasso >&2
work=$(mktemp -d /tmp/picasso-bench-http.XXXXXX)
# A copy: a target directory shared with other checkouts may be rebuilt under us.
bin="$work/picasso"
cp "$target/release/picasso" "$bin"
"$bin" bench http --help >/dev/null 2>&1 || die "$target/release/picasso has no 'bench http' (another checkout's build?)"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url
  for _ in $(seq 1 100); do
    curl -fs -o /dev/null "$1" 2>/dev/null && return 0
    python3 - "$1" <<'EOF' 2>/dev/null && return 0
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=1).read()
EOF
    sleep 0.1
  done
  die "$1 does not answer"
}

# The paper's page: 306 bytes.
mkdir -p "$work/www"
chmod 755 "$work" "$work/www"
python3 - "$work/www/index.html" <<'EOF'
import sys
head = "<html><head><title>PiCasso</title></head><body><h1>It works!</h1><p>"
tail = "</p></body></html>\n"
page = head + "x" * (306 - len(head) - len(tail)) + tail
open(sys.argv[1], "w").write(page)
EOF
chmod 644 "$work/www/index.html"

nport=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$nport backlog=4096; root $work/www; }
}
EOF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
bport=$(free_port)
busybox httpd -f -p "127.0.0.1:$bport" -h "$work/www" &
pids+=($!)
wait_http "http://127.0.0.1:$nport/index.html"
wait_http "http://127.0.0.1:$bport/index.html"

python3 - "$bin" "$RUNS" "$N" "http://127.0.0.1:$nport/index.html" "http://127.0.0.1:$bport/index.html" <<'EOF'
import json, os, re, statistics as st, subprocess, sys, tempfile
picasso, runs, n, nginx, busybox = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]

def timed(cmd):
    """Runs cmd; returns (stdout, CPU seconds it used: user + sys)."""
    before = os.times()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    after = os.times()
    if p.returncode != 0:
        sys.exit(f"bench-http.sh: {' '.join(cmd)} failed ({p.returncode}): {p.stderr[-2000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return p.stdout, cpu

def ab(url, c, keep_alive):
    with tempfile.NamedTemporaryFile(suffix=".csv") as csv:
        cmd = ["ab", "-q", "-c", str(c), "-n", str(n), "-s", "30", "-e", csv.name]
        if keep_alive:
            cmd.append("-k")
        out, cpu = timed(cmd + [url])
        pct = {}
        for line in open(csv.name).read().splitlines()[1:]:
            k, v = line.split(",")
            pct[int(float(k))] = float(v)
    def field(name):
        m = re.search(rf"^{name}:\s+([\d.]+)", out, re.M)
        return float(m.group(1)) if m else 0.0
    done = field("Complete requests")
    bad = field("Failed requests") + field("Non-2xx responses")
    return {"rps": field("Requests per second"), "p50": pct[50], "p99": pct[99],
            "ok": (done - bad) / n, "cpu_us": cpu / n * 1e6}

def pic(url, c, keep_alive):
    cmd = [picasso, "bench", "http", url, "-c", str(c), "-n", str(n), "--timeout-ms", "30000", "--json"]
    if not keep_alive:
        cmd.append("--no-keep-alive")
    out, cpu = timed(cmd)
    r = json.loads(out)
    return {"rps": r["throughput"], "p50": r["p50Ms"] or 0.0, "p99": r["p99Ms"] or 0.0,
            "ok": r["successes"] / n, "cpu_us": cpu / n * 1e6}

def rng(xs, fmt="{:.0f}"):
    xs = sorted(xs)
    return f"{fmt.format(st.median(xs))} [{fmt.format(xs[0])}–{fmt.format(xs[-1])}]"

loads = [("nginx", nginx, True, n), ("nginx", nginx, False, n), ("busybox httpd", busybox, False, max(n // 10, 1000))]
print(f"load average before the runs: {open('/proc/loadavg').read().split()[:3]} on {os.cpu_count()} CPUs")
summary = []
for name, url, ka, n in loads:
    mode = "keep-alive (ab -k)" if ka else "a connection per request (plain ab)"
    print(f"\n== {name}, {mode}: GET /index.html (306 B), n = {n}, {runs} runs, median [min–max] ==")
    print(f"{'c':>4} {'ab req/s':>22} {'picasso req/s':>22} {'picasso/ab':>18} "
          f"{'ab p50 ms':>11} {'pic p50 ms':>11} {'ab p99 ms':>11} {'pic p99 ms':>11} "
          f"{'ab CPU µs/req':>14} {'pic CPU µs/req':>15} {'success ab/pic %':>17}")
    for c in (1, 10, 100):
        a, p = [], []
        for run in range(runs):
            if run % 2 == 0:
                a.append(ab(url, c, ka)); p.append(pic(url, c, ka))
            else:
                p.append(pic(url, c, ka)); a.append(ab(url, c, ka))
        ratio = [y["rps"] / x["rps"] for x, y in zip(a, p)]
        g = lambda rs, k, f="{:.0f}": rng([r[k] for r in rs], f)
        ok = f"{100 * min(r['ok'] for r in a):.2f}/{100 * min(r['ok'] for r in p):.2f}"
        print(f"{c:>4} {g(a, 'rps'):>22} {g(p, 'rps'):>22} {rng(ratio, '{:.2f}'):>18} "
              f"{st.median(r['p50'] for r in a):>11.3f} {st.median(r['p50'] for r in p):>11.3f} "
              f"{st.median(r['p99'] for r in a):>11.3f} {st.median(r['p99'] for r in p):>11.3f} "
              f"{st.median(r['cpu_us'] for r in a):>14.1f} {st.median(r['cpu_us'] for r in p):>15.1f} {ok:>17}")
        summary.append((name, ka, c, st.median(ratio), min(min(r["ok"] for r in a), min(r["ok"] for r in p))))
print("\n== targets ==")
for name, ka, c, ratio, ok in summary:
    mode = "keep-alive" if ka else "no keep-alive"
    verdict = "met" if ratio >= 1.0 else "MISSED"
    print(f"{name:14} {mode:14} c={c:<4} picasso/ab rate {ratio:.2f} (target ≥ 1.00: {verdict}); "
          f"all requests succeeded: {'yes' if ok == 1.0 else 'NO'}")
EOF
