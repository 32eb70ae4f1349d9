#!/usr/bin/env bash
# Sandbox for generated code (HumanEval): Debian's bubblewrap (`bwrap`), the strongest isolation
# evalfleet's sandbox uses (it falls back to `unshare`, then to plain rlimits, without it).
# Idempotent: does nothing when `bwrap --version` already works. Retries while another apt/dpkg
# holds the lock (shared CI machines). Needs root (or sudo) for apt-get.
set -euo pipefail
if command -v bwrap >/dev/null 2>&1 && bwrap --version >/dev/null 2>&1; then
  echo "bubblewrap already installed: $(bwrap --version)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
apt_retry() {
  for attempt in $(seq 1 30); do
    if $SUDO apt-get -o DPkg::Lock::Timeout=20 "$@"; then return 0; fi
    echo "apt-get $1 failed (attempt $attempt; lock held?), retrying in 20 s" >&2
    sleep 20
  done
  return 1
}
apt_retry update -q
apt_retry install -y -q --no-install-recommends bubblewrap
bwrap --version
