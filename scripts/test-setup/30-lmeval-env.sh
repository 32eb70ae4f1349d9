#!/usr/bin/env bash
# The lm-evaluation-harness parity environment: .venv-lmeval with lm_eval (PyPI) and the core's torch
# version (pip's configured wheel cache serves the CPU build where there is one), kept apart from the core
# environment. Used by tests/parity/test_parity_elmb.py and bench/loglikelihood.py.
# Idempotent: does nothing when the venv already imports the pinned lm_eval.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.venv-lmeval
PY="$VENV/bin/python"
LM_EVAL_VERSION=0.4.13
if [ -x "$PY" ] && "$PY" - "$LM_EVAL_VERSION" <<'PYEOF' 2>/dev/null
import importlib.metadata as m, sys
import lm_eval.models.huggingface  # noqa: F401  (the HFLM model the parity test drives)
sys.exit(0 if m.version("lm_eval") == sys.argv[1] else 1)
PYEOF
then
  echo "lm-eval env ready: $VENV (lm_eval $LM_EVAL_VERSION)"
  exit 0
fi
python -m venv "$VENV"
"$PY" -m pip install --quiet "torch==2.13.0" "lm_eval[hf]==$LM_EVAL_VERSION" pyarrow
"$PY" -c "import lm_eval, transformers, torch; print('lm-eval env ready:', lm_eval.__file__, transformers.__version__, torch.__version__)"
