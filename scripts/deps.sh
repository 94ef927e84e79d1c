#!/usr/bin/env bash
# Installs what PiCasso's tests need beyond the Rust toolchain and makes
# sure a Docker engine answers. Idempotent and quick when all is present.
#
#   scripts/deps.sh
#
# Debian packages: busybox-static and nginx-light (their binaries go into
# the `picasso images build` service images), fonts-dejavu-core (text in
# the experiments report's plots), apache2-utils (ab, the baseline of
# `picasso bench http` in scripts/bench-http.sh). Docker: if `docker info`
# fails, starts dockerd in the background (log in target/dockerd.log) and
# waits up to 30 s for it. Fails loudly, naming what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

die() { echo "deps.sh: $*" >&2; exit 1; }

# Debian packages, by the file each one must provide.
declare -A want=(
  [busybox-static]=/bin/busybox
  [nginx-light]=/usr/sbin/nginx
  [fonts-dejavu-core]=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
  [apache2-utils]=/usr/bin/ab
)
missing=()
for pkg in "${!want[@]}"; do
  [ -e "${want[$pkg]}" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
  echo "deps.sh: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed"
  # nginx's package starts a server on port 80; the tests do not want it.
  if command -v service >/dev/null && [ -z "$sudo" ]; then
    service nginx stop >/dev/null 2>&1 || true
  fi
  for pkg in "${missing[@]}"; do
    [ -e "${want[$pkg]}" ] || die "$pkg installed but ${want[$pkg]} is not there"
  done
fi

# A Docker engine that answers.
command -v docker >/dev/null || die "docker CLI not found: install docker.io (Debian) or Docker Engine"
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || die "no Docker engine answers and dockerd is not installed"
  mkdir -p "$root/target"
  log="$root/target/dockerd.log"
  echo "deps.sh: no Docker engine answers; starting dockerd (log: $log)"
  nohup dockerd >"$log" 2>&1 &
  for _ in $(seq 1 30); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { tail -n 20 "$log" >&2; die "dockerd did not answer within 30 s (log: $log)"; }
fi
echo "deps.sh: busybox-static, nginx-light, apache2-utils and a Docker engine ($(docker version --format '{{.Server.Version}}' 2>/dev/null)) ready"
