#!/usr/bin/env bash
# Sandbox for generated code (HumanEval): Debian's bubblewrap (`bwrap`), the strongest isolation
# evalfleet's sandbox uses (it falls back to `unshare`, then to plain rlimits, without it).
# Idempotent: installs nothing when `bwrap --version` already works. Retries while another apt/dpkg
# holds the lock (shared CI machines). Needs root (or sudo) for apt-get.
# Then reports whether per-check cgroups (memory + pids, v2 or v1) can be created here: nothing to
# install for them (they need root or a delegated cgroup); without them the sandbox uses budgeted
# rlimits, `strict` refuses, and the cgroup tests skip with the same reason.
set -euo pipefail
if command -v bwrap >/dev/null 2>&1 && bwrap --version >/dev/null 2>&1; then
  echo "bubblewrap already installed: $(bwrap --version)"
else
  source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
  apt_install bubblewrap
  bwrap --version
fi
"${PYTHON:-python3}" -c 'from evalfleet.sandbox.cgroup import support; s = support()
print("per-check cgroups:", "v%d below %s" % (s.version, " ".join(s.parents)) if s.ok else "unavailable: " + s.reason)' \
  || echo "per-check cgroups: not checked (evalfleet not importable with ${PYTHON:-python3})"
