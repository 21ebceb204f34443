#!/usr/bin/env bash
# Builds programs/optinfer to SBF bytecode with Debian's rustc 1.96 (upstream bpfel target) and
# sbpf-linker, applying the guard rails: target/deploy/optinfer.so (deployed, shipped) and
# target/test/optinfer.so + optinfer.json (with the test-only `check` instruction, for the VM tests).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$HERE"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
OUT_DIR="$HERE/target/deploy"
TEST_DIR="$HERE/target/test"
mkdir -p "$OUT_DIR" "$TEST_DIR"

# Soft-float builtins the program calls (f32 only); the linker must export them, and errors in
# them must stay fatal. Keep in sync with scripts/linker-allowlist.txt (functions we never call).
FLOAT_BUILTINS="__addsf3,__subsf3,__mulsf3,__divsf3,__floatsisf,__floatunsisf,__fixsfsi,__fixsfdi,__fixunssfsi,__eqsf2,__nesf2,__ltsf2,__lesf2,__gtsf2,__gesf2,__unordsf2"

# 1. No u128/i128/f64 in program code: the upstream BPF backend miscompiles their helpers.
if grep -rnE '\b(u128|i128|f64)\b' optinfer/src --include='*.rs' | grep -vE '^\S+:\s*//' ; then
  echo "error: u128/i128/f64 found in program code (see above)" >&2
  exit 1
fi

ALLOW="$HERE/scripts/linker-allowlist.txt"
allowed_fns="$(grep -vE '^\s*(#|$)' "$ALLOW")"

# Builds the program with the cargo features in $1 into $2, applying guard rails 2 and 3.
build_so() {
  local features="$1" out="$2"
  local log="$HERE/target/sbf-build${features:+-$features}.log"
  # One dump directory for both builds: identical RUSTFLAGS let them share the dependencies.
  local ir_dir="$HERE/target/sbf-ir"
  local rustflags=(
    --cfg 'target_os="solana"'
    -A explicit_builtin_cfgs_in_flags
    # rustc hides a successful linker's stderr unless asked; the guard below reads it.
    -W linker_messages
    -C target-cpu=v2
    -C linker=sbpf-linker
    -C panic=abort
    -C link-arg=--llvm-args=--bpf-stack-size=4096
    -C link-arg=--llvm-args=-inline-threshold=100000
    -C link-arg=-O3
    -C link-arg=--fatal-errors=false
    -C "link-arg=--export=$FLOAT_BUILTINS"
    -C "link-arg=--dump-module=$ir_dir"
    # SBPF_ARCH=v0 emits the legacy format for clusters where v3 deployment is not enabled.
    -C "link-arg=--arch=${SBPF_ARCH:-v3}"
  )
  local status
  set +e
  RUSTC=/usr/bin/rustc RUSTFLAGS="${rustflags[*]}" CARGO_TARGET_DIR="$HERE/target/sbf" \
    /usr/bin/cargo build --release --target bpfel-unknown-none -p optinfer ${features:+--features "$features"} 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" != 0 ]; then
    echo "error: SBF build failed" >&2
    exit "$status"
  fi

  # 2. Linker errors are non-fatal to LLVM (so unused builtins can fail), but an error in any
  #    function outside the allowlist means silently wrong code in something the program calls.
  #    The one tolerated message elsewhere is a call to an exported f32 builtin: the linker
  #    resolves it to the soft-float implementation (checked bit for bit by the op tests).
  local bad=0 line fn callee
  while IFS= read -r line; do
    fn="$(sed -nE "s/.*in function '?([A-Za-z0-9_.$]+)'?.*/\1/p" <<<"$line")"
    callee="$(sed -nE "s/.*built-in function '([A-Za-z0-9_]+)' is not supported.*/\1/p" <<<"$line")"
    if [ -n "$fn" ] && grep -qxF "$fn" <<<"$allowed_fns"; then
      continue
    fi
    if [ -n "$callee" ] && tr ',' '\n' <<<"$FLOAT_BUILTINS" | grep -qxF "$callee"; then
      continue
    fi
    echo "error: linker error outside the allowlist: $line" >&2
    bad=1
  done < <(grep -E "ERROR llvm|LLVM ERROR" "$log" || true)
  if [ "$bad" != 0 ]; then
    echo "error: see $log; fix the code or (only for builtins the program never calls) scripts/linker-allowlist.txt" >&2
    exit 1
  fi

  local so="$HERE/target/sbf/bpfel-unknown-none/release/liboptinfer.so"
  [ -f "$so" ] || { echo "error: $so not produced" >&2; exit 1; }
  mkdir -p "$(dirname "$out")"
  cp "$so" "$out"

  # 3. The module handed to the BPF backend (after LTO and inlining) must not use i128, f64 or
  #    fp128 in any function but the allowlisted builtins: this catches wide types that reach the
  #    program through dependencies or implicit lowering, which the source grep cannot see.
  local ir="$ir_dir/post-opt.ll" wide
  [ -f "$ir" ] || { echo "error: $ir not written by the linker" >&2; exit 1; }
  wide="$(awk '/^define/{match($0, /@[^(]+/); name=substr($0, RSTART+1, RLENGTH-1)} /^}/{name=""} name!="" && / (i128|double|fp128)[ ,)]/{print name}' "$ir" | sort -u | grep -vxF -f <(echo "$allowed_fns") || true)"
  if [ -n "$wide" ]; then
    echo "error: i128/f64 used in: $wide" >&2
    exit 1
  fi
  echo "built $out ($(stat -c %s "$out") bytes)"
}

# The VM test build (the same sources plus the test-only `check` instruction, which the LiteSVM
# suites call through the IDL written next to it), then the deployed program. In this order
# because sbpf-linker also drops each build into target/deploy/ itself.
build_so check "$TEST_DIR/optinfer.so"
build_so "" "$OUT_DIR/optinfer.so"
bash "$HERE/scripts/idl.sh" "$TEST_DIR/optinfer.json" check
echo "wrote $TEST_DIR/optinfer.json"
