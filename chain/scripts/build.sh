#!/usr/bin/env bash
# Builds chain/local-validator (surfpool-core) in release mode into chain/target; idempotent, fast when warm.
# Extra arguments go to cargo build (e.g. --timings).
set -euo pipefail

chain_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
crate_dir="$chain_dir/local-validator"
target_dir="${CARGO_TARGET_DIR_CHAIN:-$chain_dir/target}"
bin="$target_dir/release/optinfer-local-validator"

# Debian packages for openssl-sys (pulled in by surfpool-core's HTTP stack).
missing=()
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
dpkg-query -W -f='${Status}' libssl-dev 2>/dev/null | grep -q 'install ok installed' || missing+=(libssl-dev)
if ((${#missing[@]})); then
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  echo "chain/build: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Update the package lists only when an install from the current ones fails.
  if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
  fi
fi

# rustup's toolchain (Rust 1.95), not Debian's /usr/bin rustc that builds the SBF program.
if [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
unset RUSTC RUSTFLAGS CARGO_BUILD_TARGET
# agave-precompiles turns on openssl's `vendored` feature, which compiles OpenSSL from C source;
# link the system libssl-dev instead (minutes less on a cold build).
export OPENSSL_NO_VENDOR=1

locked=()
[ -f "$crate_dir/Cargo.lock" ] && locked=(--locked)

start=$(date +%s)
(cd "$crate_dir" && cargo build --release "${locked[@]}" --target-dir "$target_dir" "$@")
echo "chain/build: $bin ($(($(date +%s) - start)) s, $(cargo --version))" >&2
