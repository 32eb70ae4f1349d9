#!/usr/bin/env bash
# LongBench metric libraries (the ones OpenCompass uses), now core dependencies in pyproject.toml;
# installed here for environments set up before they were added. Idempotent and fast when present.
set -euo pipefail
python -c "import jieba, rouge, rapidfuzz" 2>/dev/null || pip install -q "jieba>=0.42" "rouge>=1.0" "rapidfuzz>=3.0"
