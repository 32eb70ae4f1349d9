#!/usr/bin/env bash
# The prepared GPU check of engine-fed vLLM workers (one command, meant to finish in under 8 minutes on one H200):
# a ~1B-parameter random-weight llama built locally (hidden 2048, 26 layers, 16 heads, bfloat16; no hub),
# 1,000 GSM8K prompts (their real few-shot prompts), 256 new tokens, greedy. Runs bench/engine.py: raw vLLM
# (one LLM.generate, batch-invariant mode as evalfleet's default) and `evalfleet run` (backend vllm, every
# other setting at its default, joining a `ray start --head` the bench starts), then prints both
# throughputs, the ratio, the identical-output count, and whether batch invariance held (raw vLLM again in
# another batch composition gives the same tokens).
#
#   bash bench/gpu_check.sh                  # on the GPU machine
#   bash bench/gpu_check.sh --tiny           # anywhere (CPU): tiny sizes, to test the script itself
#
# Data: ../shared/data relative to the repository root, or EVALFLEET_DATA. Extra flags go to bench/engine.py.
set -euo pipefail
cd "$(dirname "$0")/.."
export EVALFLEET_DATA="${EVALFLEET_DATA:-$(cd .. && pwd)/shared/data}"
OUT="${OUT:-bench/results/gpu_check.md}"
if [[ "${1:-}" == "--tiny" ]]; then
  shift
  SIZES=(--items 24 --max-new-tokens 8 --hidden 64 --heads 2 --layers 2 --dtype float32)
  OUT="${OUT_TINY:-/tmp/evalfleet-gpu-check-tiny.md}"
else
  SIZES=(--items 1000 --max-new-tokens 256 --hidden 2048 --heads 16 --layers 26 --dtype bfloat16)
fi
start=$(date +%s)
python bench/engine.py "${SIZES[@]}" --check-invariance --out "$OUT" "$@"
echo "gpu_check: $(( $(date +%s) - start )) s in all; figures in $OUT"
