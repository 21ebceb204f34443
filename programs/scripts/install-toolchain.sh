#!/usr/bin/env bash
# Installs the SBF toolchain for programs/ (Debian rustc-web with the upstream BPF target, LLVM 22, sbpf-linker 0.2.6); idempotent, fast when warm.
set -euo pipefail

SBPF_LINKER_VERSION=0.2.6
APT_PACKAGES=(rustc-web cargo-web libstd-rust-web-dev-bpf llvm-22-dev libpolly-22-dev libzstd-dev zlib1g-dev)

log() { echo "[install-toolchain] $*"; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  # dpkg-query is a few ms per package: the warm path never touches the network.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  log "Debian packages present"
fi

if [ ! -x /usr/bin/rustc ] || ! /usr/bin/rustc --print target-list | grep -q '^bpfel-unknown-none$'; then
  echo "error: /usr/bin/rustc missing or without bpfel-unknown-none" >&2
  exit 1
fi

# The linker is built with rustup's cargo (the default one on PATH) against Debian's LLVM 22.
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"
have_version=""
if command -v sbpf-linker >/dev/null 2>&1; then
  # First line is "sbpf-linker X.Y.Z"; the second names the LLVM it was built with.
  have_version="$(sbpf-linker --version 2>/dev/null | head -1 | awk '{print $NF}' || true)"
fi
if [ "$have_version" != "$SBPF_LINKER_VERSION" ]; then
  log "cargo install sbpf-linker@$SBPF_LINKER_VERSION (found: ${have_version:-none})"
  # bpf-linker's build script finds LLVM through LLVM_PREFIX (llvm-sys only through LLVM_SYS_221_PREFIX);
  # without it the link step looks for libLLVM in /usr/lib64 and fails.
  LLVM_PREFIX=/usr/lib/llvm-22 LLVM_SYS_221_PREFIX=/usr/lib/llvm-22 PATH="/usr/lib/llvm-22/bin:$PATH" \
    cargo install --locked "sbpf-linker@$SBPF_LINKER_VERSION" \
    --no-default-features --features bpf-linker/llvm-22
else
  log "sbpf-linker $SBPF_LINKER_VERSION present"
fi
log "rustc (SBF): $(/usr/bin/rustc --version)"
log "sbpf-linker: $(command -v sbpf-linker)"
