#!/usr/bin/env bash
# The OpenCompass parity environment: .venv-parity with opencompass==0.5.4 and the versions it needs
# (numpy<2, pyarrow<21, datasets<4, transformers<5), kept apart from the core environment.
# Idempotent: does nothing when the venv already imports the pinned OpenCompass. Used by tests/parity/.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.venv-parity
PY="$VENV/bin/python"
if [ -x "$PY" ] && "$PY" - <<'PYEOF' 2>/dev/null
import importlib.metadata as m, sys
sys.exit(0 if m.version("opencompass") == "0.5.4" and m.version("transformers").startswith("4.") else 1)
PYEOF
then
  echo "parity env ready: $VENV (opencompass 0.5.4)"
  exit 0
fi
python -m venv "$VENV"
# The core's torch version (pip's configured wheel cache serves the CPU build where there is one),
# OpenCompass, and its pins, in one resolver run.
"$PY" -m pip install --quiet "torch==2.13.0" "opencompass==0.5.4" "numpy<2" "pyarrow<21" "datasets<4" "transformers<5"
"$PY" -c "import opencompass, transformers, numpy; print('parity env ready:', opencompass.__file__, transformers.__version__, numpy.__version__)"
