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
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
apt_install bubblewrap
bwrap --version
