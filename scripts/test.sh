#!/usr/bin/env bash
# Installs what the test suites compare against (extra environments, system packages), then runs the tests.
# The default run leaves out the suites marked slow; `bash scripts/test.sh -m slow` runs those
# (parity against OpenCompass and lm-eval, multi-node cluster, vLLM, hostile sandbox programs, browser).
set -euo pipefail
cd "$(dirname "$0")/.."
for step in scripts/test-setup/*.sh; do
  [ -e "$step" ] || continue
  echo "== $step"
  bash "$step"
done
python -m pytest "$@"
