#!/usr/bin/env bash
# PiCasso's test command: sets up everything the tests need on a fresh
# machine, then runs every test, interoperability tests included.
#
#   scripts/test.sh            # all tests
#   scripts/test.sh -E 'test(interop)'   # extra arguments go to cargo nextest
#
# Needs: a Rust toolchain (cargo), python3 with venv and pip (python-ndn is
# installed from PyPI into .venv), apt-get (busybox-static, nginx-light) and
# Docker (the engine is started if it does not answer). Fails loudly when
# something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

die() { echo "test.sh: $*" >&2; exit 1; }
command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs)"

# Python venv with python-ndn, for the interop tests.
PICASSO_PYTHON=$("$root/scripts/pyenv.sh") || die "could not set up the python-ndn venv (see above)"
export PICASSO_PYTHON
echo "test.sh: python-ndn ready at $PICASSO_PYTHON"

# Debian packages for the service images, and a Docker engine that answers.
"$root/scripts/deps.sh" || die "could not set up busybox-static, nginx-light or a Docker engine (see above)"

echo "test.sh: checking formatting and lints"
cargo fmt --all -- --check || die "cargo fmt --check failed: run cargo fmt --all"
cargo clippy --workspace --all-targets --quiet -- -D warnings || die "clippy found problems"

echo "test.sh: running tests"
if cargo nextest --version >/dev/null 2>&1; then
  # nextest does not run doctests: run them first so nextest's summary
  # is the last word.
  cargo test --workspace --doc --quiet
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
