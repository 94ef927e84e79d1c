#!/usr/bin/env bash
# Creates (once) the Python environment the python-ndn interoperability tests
# run in: a venv at $REPO/.venv with a pinned python-ndn. Prints the path of
# its python on stdout (the only line on stdout); everything else goes to
# stderr. Fails with a message naming what is missing.
#
#   PY=$(scripts/pyenv.sh) && "$PY" tests/interop/pyndn_corpus.py
#
# Environment:
#   PICASSO_VENV           venv folder (default: $REPO/.venv)
#   PICASSO_PYTHON_NDN     python-ndn version to pin (default below)
#   PYTHON3                interpreter that creates the venv (default: python3)
set -euo pipefail

PYTHON_NDN_VERSION="${PICASSO_PYTHON_NDN:-0.5.2}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PICASSO_VENV:-$REPO/.venv}"
PY3="${PYTHON3:-python3}"

die() {
    echo "pyenv.sh: error: $*" >&2
    exit 1
}

# The import that proves the environment is complete: python-ndn at the pinned
# version, with the crypto back end its signers and verifiers use.
CHECK="import sys, importlib.metadata as m, ndn.encoding, ndn.security, Cryptodome; \
v = m.version('python-ndn'); sys.exit(0 if v == '$PYTHON_NDN_VERSION' else 3)"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "$CHECK" >/dev/null 2>&1; then
    echo "$VENV/bin/python"
    exit 0
fi

command -v "$PY3" >/dev/null 2>&1 || die "'$PY3' not found: install Python 3 (>= 3.9), e.g. 'apt-get install python3 python3-venv'"
"$PY3" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' \
    || die "python-ndn $PYTHON_NDN_VERSION needs Python >= 3.9, '$PY3' is $("$PY3" --version 2>&1)"

if [ ! -x "$VENV/bin/python" ]; then
    echo "pyenv.sh: creating venv $VENV" >&2
    "$PY3" -m venv "$VENV" >&2 \
        || die "'$PY3 -m venv' failed: the venv module is missing (Debian: 'apt-get install python3-venv')"
fi
"$VENV/bin/python" -m pip --version >/dev/null 2>&1 \
    || die "pip is missing in $VENV (Debian: 'apt-get install python3-venv python3-pip'; then remove $VENV)"

echo "pyenv.sh: installing python-ndn==$PYTHON_NDN_VERSION into $VENV" >&2
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet \
    "python-ndn==$PYTHON_NDN_VERSION" >&2 \
    || die "'pip install python-ndn==$PYTHON_NDN_VERSION' failed (no network to the package index?)"

"$VENV/bin/python" -c "$CHECK" >&2 \
    || die "python-ndn $PYTHON_NDN_VERSION does not import after installing it in $VENV"

echo "$VENV/bin/python"
