#!/usr/bin/env bash
# Installs what the test suites compare against (extra environments, system packages), then runs every test.
# Pass pytest arguments through, e.g. `bash scripts/test.sh -m "not slow"` for the quick run.
set -euo pipefail
cd "$(dirname "$0")/.."
for step in scripts/test-setup/*.sh; do
  [ -e "$step" ] || continue
  echo "== $step"
  bash "$step"
done
python -m pytest "$@"
