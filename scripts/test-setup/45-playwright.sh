#!/usr/bin/env bash
# Playwright's Python client for the explorer's browser tests (tests/report/test_serve_browser.py).
# Only the client: the tests drive Debian's chromium (40-chromium.sh) through executable_path, and
# no browser build is downloaded (`playwright install` is never run). Idempotent and fast when present.
set -euo pipefail
python -c "import playwright.sync_api" 2>/dev/null || pip install -q "playwright>=1.40"
pip show playwright | sed -n 's/^Version: /playwright /p'
