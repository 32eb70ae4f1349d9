#!/usr/bin/env bash
# sentence-transformers for T-Eval's `teval:embedding` plan similarity and its parity test
# (tests/parity/test_parity_teval_embedding.py): pyproject.toml's optional extra `teval-embedding`, installed
# into the core environment by its requirement (not by reinstalling evalfleet). Idempotent: does nothing when
# `import sentence_transformers` already works.
set -euo pipefail
cd "$(dirname "$0")/../.."
if python -c "import sentence_transformers" >/dev/null 2>&1; then
  echo "sentence-transformers already installed: $(python -c 'import sentence_transformers as s; print(s.__version__)' 2>/dev/null)"
  exit 0
fi
# The extra's requirement list, read from its one line in pyproject.toml (no tomllib: Python 3.10 lacks it).
REQS=$(python - <<'PYEOF'
import ast, re
line = re.search(r"^teval-embedding\s*=\s*(\[.*\])\s*$", open("pyproject.toml").read(), re.M)
print("\n".join(ast.literal_eval(line.group(1))))
PYEOF
)
mapfile -t REQ_ARRAY <<<"$REQS"
python -m pip install --quiet "${REQ_ARRAY[@]}"
python -c "import sentence_transformers as s; print('sentence-transformers installed:', s.__version__)"
