#!/usr/bin/env bash
# Installs everything optinfer needs on a fresh Debian machine (idempotent): nats-server, chromium, npm packages, the SBF toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# Debian packages: nats-server (the bus), chromium (the explorer's browser suite, driven by playwright-core).
APT=()
if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then APT+=(nats-server); fi
if [ ! -x /usr/bin/chromium ]; then APT+=(chromium); fi
if [ ${#APT[@]} -gt 0 ]; then
  echo "[setup] apt-get install ${APT[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${APT[@]}"
else
  echo "[setup] nats-server and chromium present"
fi

# `npm install`, not `npm ci`: the lockfile is committed and honoured, but npm ci refuses it because this
# registry does not serve litesvm's optional packages for other platforms, so the lock cannot list them.
echo "[setup] npm install (from package-lock.json)"
npm install --no-audit --no-fund

if [ "${OPTINFER_SKIP_PROGRAM:-}" != "1" ]; then
  bash programs/scripts/install-toolchain.sh
fi

if [ "${OPTINFER_SKIP_CHAIN:-}" != "1" ]; then
  # The surfpool-based local validator (JSON-RPC + websockets); about 11 minutes cold on 2 cores.
  bash chain/scripts/build.sh
fi
