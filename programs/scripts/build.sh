#!/usr/bin/env bash
# Builds programs/optinfer to SBF bytecode (programs/target/deploy/optinfer.so) with Debian's
# rustc 1.96 (upstream bpfel target) and sbpf-linker, then applies the guard rails.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$HERE"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
OUT_DIR="$HERE/target/deploy"
LOG="$HERE/target/sbf-build.log"
mkdir -p "$OUT_DIR"

# Soft-float builtins the program calls (f32 only); the linker must export them, and errors in
# them must stay fatal. Keep in sync with scripts/linker-allowlist.txt (functions we never call).
FLOAT_BUILTINS="__addsf3,__subsf3,__mulsf3,__divsf3,__floatsisf,__floatunsisf,__fixsfsi,__fixsfdi,__fixunssfsi,__eqsf2,__nesf2,__ltsf2,__lesf2,__gtsf2,__gesf2,__unordsf2"

# 1. No u128/i128/f64 in program code: the upstream BPF backend miscompiles their helpers.
if grep -rnE '\b(u128|i128|f64)\b' optinfer/src --include='*.rs' | grep -vE '^\S+:\s*//' ; then
  echo "error: u128/i128/f64 found in program code (see above)" >&2
  exit 1
fi

RUSTFLAGS_SBF=(
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
  -C "link-arg=--dump-module=$HERE/target/sbf-ir"
  # SBPF_ARCH=v0 emits the legacy format for clusters where v3 deployment is not enabled.
  -C "link-arg=--arch=${SBPF_ARCH:-v3}"
)
set +e
RUSTC=/usr/bin/rustc RUSTFLAGS="${RUSTFLAGS_SBF[*]}" CARGO_TARGET_DIR="$HERE/target/sbf" \
  /usr/bin/cargo build --release --target bpfel-unknown-none -p optinfer 2>&1 | tee "$LOG"
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
ALLOW="$HERE/scripts/linker-allowlist.txt"
allowed_fns="$(grep -vE '^\s*(#|$)' "$ALLOW")"
bad=0
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
done < <(grep -E "ERROR llvm|LLVM ERROR" "$LOG" || true)
if [ "$bad" != 0 ]; then
  echo "error: see $LOG; fix the code or (only for builtins the program never calls) scripts/linker-allowlist.txt" >&2
  exit 1
fi

SO="$HERE/target/sbf/bpfel-unknown-none/release/liboptinfer.so"
[ -f "$SO" ] || { echo "error: $SO not produced" >&2; exit 1; }
cp "$SO" "$OUT_DIR/optinfer.so"

# 3. The module handed to the BPF backend (after LTO and inlining) must not use i128, f64 or
#    fp128 in any function but the allowlisted builtins: this catches wide types that reach the
#    program through dependencies or implicit lowering, which the source grep cannot see.
IR="$HERE/target/sbf-ir/post-opt.ll"
[ -f "$IR" ] || { echo "error: $IR not written by the linker" >&2; exit 1; }
wide="$(awk '/^define/{match($0, /@[^(]+/); name=substr($0, RSTART+1, RLENGTH-1)} /^}/{name=""} name!="" && / (i128|double|fp128)[ ,)]/{print name}' "$IR" | sort -u | grep -vxF -f <(echo "$allowed_fns") || true)"
if [ -n "$wide" ]; then
  echo "error: i128/f64 used in: $wide" >&2
  exit 1
fi
echo "built $OUT_DIR/optinfer.so ($(stat -c %s "$OUT_DIR/optinfer.so") bytes)"
