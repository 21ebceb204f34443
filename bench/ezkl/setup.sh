#!/usr/bin/env bash
# Installs EZKL (PyPI `ezkl`) and `onnx` into a venv outside the repo, for bench/ezkl.ts and bench/ezkl/prove.py.
# Idempotent: reuses the venv and skips pip when both packages already import.
#
#   bash bench/ezkl/setup.sh            # venv at ~/.cache/optinfer/ezkl-venv (or $OPTINFER_EZKL_VENV)
#   EZKL_VERSION=23.0.5 bash bench/ezkl/setup.sh   # pin a version (default: latest)
set -euo pipefail

VENV="${OPTINFER_EZKL_VENV:-$HOME/.cache/optinfer/ezkl-venv}"
PY="${PYTHON:-python3}"
SPEC="ezkl${EZKL_VERSION:+==$EZKL_VERSION}"

"$PY" -c 'import sys; assert sys.version_info >= (3, 9), sys.version' || {
  echo "need python >= 3.9 (have $("$PY" --version 2>&1))" >&2
  exit 1
}

if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p "$(dirname "$VENV")"
  if ! "$PY" -m venv "$VENV" 2>/dev/null; then
    echo "python venv module missing; installing python3-venv (Debian/Ubuntu)" >&2
    if command -v apt-get >/dev/null; then
      SUDO=""
      [ "$(id -u)" -ne 0 ] && SUDO="sudo"
      $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-venv
      rm -rf "$VENV"
      "$PY" -m venv "$VENV"
    else
      echo "no apt-get: install the venv module for $PY by hand" >&2
      exit 1
    fi
  fi
fi

want_ok() {
  "$VENV/bin/python" - "$@" <<'PY'
import sys, importlib.metadata as md
import ezkl, onnx, numpy  # noqa: F401
want = sys.argv[1] if len(sys.argv) > 1 else ""
sys.exit(0 if not want or md.version("ezkl") == want else 1)
PY
}

if want_ok "${EZKL_VERSION:-}" 2>/dev/null; then
  echo "ezkl already installed in $VENV"
else
  start=$(date +%s)
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "$SPEC" onnx numpy
  echo "installed in $(($(date +%s) - start)) s"
fi
"$VENV/bin/python" -c 'import ezkl, onnx, sys; print(f"ezkl {ezkl.__version__}, onnx {onnx.__version__}, python {sys.version.split()[0]} at {sys.executable}")'
