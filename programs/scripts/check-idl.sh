#!/usr/bin/env bash
# Fails when programs/idl/optinfer.json differs from the IDL generated from the current source.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TMP="$(mktemp)"
trap 'rm -f "$TMP"' EXIT
bash "$HERE/scripts/idl.sh" "$TMP"
if ! diff -q "$HERE/idl/optinfer.json" "$TMP" >/dev/null; then
  diff -u "$HERE/idl/optinfer.json" "$TMP" | head -40 >&2
  echo "error: programs/idl/optinfer.json is stale; run: bash programs/scripts/idl.sh" >&2
  exit 1
fi
echo "IDL up to date"
