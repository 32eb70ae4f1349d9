#!/usr/bin/env bash
# Installs evalfleet and what it needs to run (CPU torch here; on a GPU machine pip picks the CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --upgrade pip
if [ -z "${EVALFLEET_GPU:-}" ]; then
  python -m pip install --quiet torch==2.13.0
fi
python -m pip install --quiet -e ".[dev]"
echo "evalfleet installed: $(command -v evalfleet)"
