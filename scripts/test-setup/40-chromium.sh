#!/usr/bin/env bash
# Headless Chromium for the report-rendering test (pytest -m browser): Debian's chromium + chromium-driver.
# Idempotent: does nothing when `chromium --version` already works. Retries while another
# apt/dpkg holds the lock (shared CI machines). Needs root (or sudo) for apt-get.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 && chromium --version >/dev/null 2>&1; then
  echo "chromium and chromedriver already installed: $(chromium --version 2>/dev/null)"
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
apt_retry install -y -q --no-install-recommends chromium chromium-driver fonts-dejavu-core
chromium --version
