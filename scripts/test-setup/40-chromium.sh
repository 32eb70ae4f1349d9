#!/usr/bin/env bash
# Headless Chromium for the report-rendering test (pytest -m browser): Debian's chromium + chromium-driver.
# Idempotent: does nothing when `chromium --version` already works. Retries while another
# apt/dpkg holds the lock (shared CI machines). Needs root (or sudo) for apt-get.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 && chromium --version >/dev/null 2>&1; then
  echo "chromium and chromedriver already installed: $(chromium --version 2>/dev/null)"
  exit 0
fi
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
apt_install chromium chromium-driver fonts-dejavu-core
chromium --version
