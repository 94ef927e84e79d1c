#!/usr/bin/env bash
# PiCasso's run command: a local test bed — an orchestrator and four
# emulated Raspberry Pis, each a separate process with its own forwarder,
# linked over UDP with the paper's 5 ms RTT — with the sample services and
# a load that makes the orchestrator replicate. Ends with a summary.
#
#   scripts/testbed.sh                       # defaults: 4 nodes, 60 s of load
#   scripts/testbed.sh --nodes 6 --duration 120 --json summary.json
#   scripts/testbed.sh --policy qos          # any `picasso testbed` flag
#
# Sets up what it needs on a fresh machine (scripts/deps.sh: Debian
# packages for the service images and a Docker engine, started if none
# answers), builds PiCasso in release mode, then runs `picasso testbed`.
# Without a Docker engine the nodes run the services as local processes
# and the run says so. Emulating each Pi's CPU quota needs write access to
# the cgroup tree (root); without it the run says it is off.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "testbed.sh: $*" >&2; exit 1; }
command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs)"

if ! scripts/deps.sh; then
  echo "testbed.sh: the Docker engine or the image packages are not available; the test bed will run services as local processes" >&2
fi
echo "testbed.sh: building PiCasso (release)"
cargo build --release --quiet -p picasso -p picasso-httpd || die "the build failed (see above)"
exec target/release/picasso testbed "$@"
