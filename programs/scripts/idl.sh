#!/usr/bin/env bash
# Regenerates programs/idl/optinfer.json from the program (native idl-build test, rustup cargo).
# Usage: idl.sh [OUT [FEATURES]]; FEATURES=check writes the test build's IDL (with `check`).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(realpath -m "${1:-$HERE/idl/optinfer.json}")"
FEATURES="idl-build${2:+,$2}"
cd "$HERE/optinfer"
RAW="$(mktemp)"
trap 'rm -f "$RAW"' EXIT
cargo test --quiet --features "$FEATURES" __anchor_private_print_idl -- --nocapture --test-threads=1 2>/dev/null \
  | node "$HERE/scripts/gen-idl.mjs" "$RAW"
# Formatted with the repository's prettier config, so `prettier --check` and this script agree.
"$HERE/../node_modules/.bin/prettier" --stdin-filepath "$HERE/idl/optinfer.json" <"$RAW" >"$OUT"
