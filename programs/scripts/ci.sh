#!/usr/bin/env bash
# What CI runs for the on-chain program (called from .ci/run after `npm ci` at the root).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

step() { echo "== programs ci: $* ($(date -u +%H:%M:%S))"; }

step "toolchain"
bash "$HERE/scripts/install-toolchain.sh"

step "SBF builds with guard rails (deployed, and the VM test build with check)"
bash "$HERE/scripts/build.sh"

step "shipped binary is the build of these sources"
# programs/deploy/optinfer.so is committed so a fresh clone's `npx optinfer dev` runs the program; the build is
# reproducible (same bytes from a cold build in another directory), so any difference means it is stale.
if ! cmp -s "$HERE/target/deploy/optinfer.so" "$HERE/deploy/optinfer.so"; then
  echo "error: programs/deploy/optinfer.so is not what these sources build to;" \
    "cp programs/target/deploy/optinfer.so programs/deploy/ and commit it" >&2
  exit 1
fi

step "IDL staleness (the committed IDL is the deployed build's: no check)"
bash "$HERE/scripts/check-idl.sh"

step "rustfmt and clippy"
(cd "$HERE" && cargo fmt -p optinfer --check && cargo clippy -q -p optinfer --all-targets -- -D warnings &&
  cargo clippy -q -p optinfer --all-targets --features check -- -D warnings)

step "native tests of the pure functions and the phase table (rustup cargo)"
(cd "$HERE" && cargo test -p optinfer)

step "LiteSVM suites on the SBF program"
(cd "$ROOT" && npm run --silent test:program)
step "done"
