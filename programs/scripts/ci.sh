#!/usr/bin/env bash
# What CI runs for the on-chain program (called from .ci/run after `npm ci` at the root).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

step() { echo "== programs ci: $* ($(date -u +%H:%M:%S))"; }

step "toolchain"
bash "$HERE/scripts/install-toolchain.sh"

step "SBF build with guard rails"
bash "$HERE/scripts/build.sh"

step "IDL staleness"
bash "$HERE/scripts/check-idl.sh"

step "rustfmt and clippy"
(cd "$HERE" && cargo fmt -p optinfer --check && cargo clippy -q -p optinfer --all-targets -- -D warnings)

step "native tests of the pure functions (rustup cargo)"
(cd "$HERE" && cargo test -p optinfer)

step "LiteSVM suites on the SBF program"
(cd "$ROOT" && npm run --silent test:program)
step "done"
